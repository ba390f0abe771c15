"""Persist the final PMT models: a joblib file plus a JSON sidecar that vouches for it.

The final model of each PMT is fitted on all households (capped at ``models.max_train_rows``
like every training fold) and written as ``<name>.joblib`` beside ``<name>.json``. The sidecar
records the model, its features, the library versions, the SHA-256 of the training matrix,
the cross-validation metrics, the creation time and the SHA-256 of the joblib file.

joblib files are pickles: loading one runs code. :func:`load_model` therefore hashes the file
first and refuses it unless the hash matches the sidecar (and ``expected_sha256``, e.g. the
``artifact_sha256`` recorded in the warehouse, when given).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import joblib
import polars as pl

from models.cv import PmtResult
from models.features import FeatureSpec
from models.pmt import DEFAULT_ALLOWED_MODULES, ESTIMATOR_STEP, MODEL_NAME, PmtModel, fit_pmt
from transforms.config import Models

LIBRARIES = ("scikit-learn", "numpy", "scipy", "polars", "joblib")
SIDECAR_SUFFIX = ".json"
ARTIFACT_SUFFIX = ".joblib"
COMPRESSION = 3
"""zlib level: a 200-tree forest shrinks about 3x for about 0.5 s per 10 MB."""


class ArtifactIntegrityError(Exception):
    """A model file whose bytes do not match its recorded SHA-256 (or has no sidecar)."""


@dataclass(frozen=True)
class SavedModel:
    """Where a model was written and the hashes that identify it."""

    path: Path
    sidecar: Path
    sha256: str
    training_sha256: str


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    """Python and the versions of the libraries a saved model depends on."""
    versions = {"python": platform.python_version()}
    for library in LIBRARIES:
        versions[library] = metadata.version(library)
    return versions


def _finite_or_none(value: float) -> float | None:
    """JSON has no NaN: undefined metrics become null."""
    return None if math.isnan(value) else value


def _cv_metrics(cv: PmtResult | None) -> dict[str, Any] | None:
    """Cross-validation metrics recorded in the sidecar."""
    if cv is None:
        return None
    return {
        "auc": _finite_or_none(cv.auc),
        "fold_auc": [_finite_or_none(value) for value in cv.fold_auc],
        "n_train": cv.n_train,
        "scheme": cv.cv_scheme,
    }


def _write_atomically(path: Path, write: Any) -> None:
    """Write through a temporary file in the same folder, then rename into place."""
    temporary = path.with_name(f".{path.name}.tmp")
    write(temporary)
    os.replace(temporary, path)


def save_model(
    model: PmtModel, directory: Path, *, cv: PmtResult | None = None, seed: int | None = None
) -> SavedModel:
    """Write ``<name>.joblib`` and its ``<name>.json`` sidecar into ``directory``."""
    if not MODEL_NAME.match(model.name):
        raise ValueError(f"model name '{model.name}' cannot be used as a file name")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{model.name}{ARTIFACT_SUFFIX}"
    _write_atomically(path, lambda target: joblib.dump(model, target, compress=COMPRESSION))
    sha256 = file_sha256(path)
    estimator = model.pipeline.named_steps[ESTIMATOR_STEP]
    sidecar = {
        "model": model.name,
        "task": model.task,
        "estimator": f"{type(estimator).__module__}.{type(estimator).__qualname__}",
        "target": "is_poor" if model.task == "classifier" else "log(welfare_pre + 1)",
        "features": {
            "numeric": list(model.spec.numeric),
            "categorical": list(model.spec.categorical),
        },
        "weight_column": model.weight_column,
        "sigma": model.sigma,
        "n_train": model.n_train,
        "seed": seed,
        "training_sha256": model.training_sha256,
        "cv": _cv_metrics(cv),
        "versions": library_versions(),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "artifact": path.name,
        "artifact_sha256": sha256,
    }
    sidecar_path = path.with_suffix(SIDECAR_SUFFIX)
    _write_atomically(
        sidecar_path,
        lambda target: target.write_text(json.dumps(sidecar, indent=2) + "\n", encoding="utf-8"),
    )
    return SavedModel(
        path=path, sidecar=sidecar_path, sha256=sha256, training_sha256=model.training_sha256
    )


def fit_and_save(
    frame: pl.DataFrame,
    *,
    name: str,
    spec: FeatureSpec,
    models: Models,
    weight: str,
    seed: int,
    directory: Path,
    cv: PmtResult | None = None,
    allowed_modules: Collection[str] = DEFAULT_ALLOWED_MODULES,
) -> SavedModel:
    """Fit the final model on all households (same cap as the folds) and save it."""
    model = fit_pmt(
        frame,
        name=name,
        spec=spec,
        models=models,
        weight=weight,
        seed=seed,
        allowed_modules=allowed_modules,
    )
    return save_model(model, directory, cv=cv, seed=seed)


def read_sidecar(path: Path) -> dict[str, Any]:
    """The JSON sidecar of a saved model file."""
    sidecar = Path(path).with_suffix(SIDECAR_SUFFIX)
    if not sidecar.is_file():
        raise ArtifactIntegrityError(f"{path}: no sidecar {sidecar.name}; refusing to load")
    data: dict[str, Any] = json.loads(sidecar.read_text(encoding="utf-8"))
    return data


def load_model(path: Path, *, expected_sha256: str | None = None) -> PmtModel:
    """Load a saved PMT after checking its SHA-256 against the sidecar (and the caller's)."""
    path = Path(path)
    recorded = read_sidecar(path).get("artifact_sha256")
    actual = file_sha256(path)
    if actual != recorded:
        raise ArtifactIntegrityError(
            f"{path}: SHA-256 {actual} does not match the sidecar ({recorded}); refusing to load"
        )
    if expected_sha256 is not None and actual != expected_sha256:
        raise ArtifactIntegrityError(
            f"{path}: SHA-256 {actual} is not the expected {expected_sha256}; refusing to load"
        )
    model = joblib.load(path)
    if not isinstance(model, PmtModel):
        raise ArtifactIntegrityError(f"{path}: holds {type(model).__name__}, not a PmtModel")
    return model
