"""Effect of the training cap and of the forest's settings on out-of-sample accuracy.

Usage (from the repository root):
    .venv/bin/python -m benchmarks.training_cap [--scale 1m] [--sizes 40000,80000,160000]
Fits every built-in model on simple random samples of the given sizes (one thread, as in the
flow) and scores 200,000 other households: weighted AUC against is_poor, fit seconds. Then
compares the random forest as built (100 trees on quarter-size bootstrap samples) with 200
trees on full bootstrap samples at the largest size. Writes
benchmarks/results/training_cap-<scale>.json; the tables in docs/methodology.md §4.2 and
benchmarks/README.md come from it.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from benchmarks.analysis import analysis_inputs, staged_analysis, write_result
from models import pmt
from models.features import feature_spec
from transforms.config import CustomModel
from transforms.targeting import unit_weight

HELD_OUT = 200_000
SEED = 1
FULL_FOREST = "rf_200_full_bootstrap"  # the forest before this session, as a custom model


def main() -> None:
    """Fit, score and write the JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--scale", default="1m")
    parser.add_argument("--sizes", default="40000,80000,160000")
    args = parser.parse_args()
    inputs = analysis_inputs(args.scale)
    forest = CustomModel(
        estimator="sklearn.ensemble.RandomForestClassifier",
        params={"n_estimators": 200, "min_samples_leaf": 20, "max_features": "sqrt"},
    )
    models = inputs.config.models.model_copy(
        update={"max_train_rows": 10**9, "custom": {FULL_FOREST: forest}}
    )
    config = inputs.config.model_copy(update={"models": models})
    frame = staged_analysis(inputs.analysis)
    spec = feature_spec(
        frame.schema, proxies=config.inputs.households.proxies, features=config.models.features
    )
    weight_name = unit_weight(config.targeting.unit)
    rng = np.random.default_rng(SEED)
    order = rng.permutation(frame.height)
    test, pool = np.sort(order[:HELD_OUT]), order[HELD_OUT:]
    is_poor = frame["is_poor"].to_numpy()[test]
    weight = frame[weight_name].to_numpy()[test]

    def fit_and_score(name: str, size: int) -> dict[str, float]:
        rows = np.sort(pool[:size])
        with threadpool_limits(1):
            started = time.perf_counter()
            model = pmt.fit_pmt(
                frame,
                name=name,
                spec=spec,
                models=config.models,
                weight=weight_name,
                seed=SEED,
                rows=rows,
            )
            seconds = time.perf_counter() - started
            score = model.predict_p_poor(frame, rows=test)
        auc = roc_auc_score(is_poor, score, sample_weight=weight)
        return {"auc": round(float(auc), 4), "fit_seconds": round(seconds, 1)}

    sizes = [int(size) for size in args.sizes.split(",")]
    by_size = {
        str(size): {name: fit_and_score(name, size) for name in pmt.BUILTIN_MODELS}
        for size in sizes
    }
    for size, fitted in by_size.items():
        print(size, {name: result["auc"] for name, result in fitted.items()})
    full_forest = fit_and_score(FULL_FOREST, sizes[-1])
    write_result(
        "training_cap",
        args.scale,
        {
            "held_out_households": HELD_OUT,
            "by_training_size": by_size,
            "rf_200_trees_full_bootstrap": {"size": sizes[-1], **full_forest},
            "rf_as_built": {"size": sizes[-1], **by_size[str(sizes[-1])]["rf"]},
        },
    )


if __name__ == "__main__":
    main()
