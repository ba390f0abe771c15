"""The training cache: a model's cross-validated result kept beside its saved artifact.

An entry lives in the audit's own output folder (``<output>/models/<data hash>/``), so two
checkouts or two audits never share one by accident. It is two files per model:

- ``<name>.scores.parquet``: the out-of-fold fold and score and the final model's in-sample
  score of every household, in the analysis frame's row order (no household identifier: the
  data hash in the folder's name fixes the order);
- ``<name>.training.json``: the cache key (data, code and settings), the metrics, and the
  SHA-256 of the scores file and of the model artifact.

Reading an entry never unpickles anything: it reads JSON and Parquet, then checks both hashes
(and the artifact's bytes against its sidecar) before the entry is used. An entry whose key
differs, or whose files do not match their hashes, is not used; the model is trained again.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from models.artifacts import ArtifactIntegrityError, file_sha256, read_sidecar

CACHE_FORMAT = 1
RECORD_SUFFIX = ".training.json"
SCORES_SUFFIX = ".scores.parquet"


@dataclass(frozen=True)
class TrainingEntry:
    """What the audit keeps of one trained model: scores, metrics and its artifact."""

    model: str
    fold: np.ndarray
    p_poor: np.ndarray
    in_sample_p_poor: np.ndarray
    auc: float
    n_train: int
    cv_scheme: str
    final_n_train: int
    in_sample_auc: float
    artifact_path: Path
    artifact_sha256: str


class CacheEntryRejected(Exception):
    """A cache entry that exists for this key but cannot be trusted (says why)."""


def record_path(directory: Path, model: str) -> Path:
    """The JSON record of a model's cache entry."""
    return directory / f"{model}{RECORD_SUFFIX}"


def scores_path(directory: Path, model: str) -> Path:
    """The Parquet scores of a model's cache entry."""
    return directory / f"{model}{SCORES_SUFFIX}"


def _replace_atomically(path: Path, write: Any) -> None:
    """Write through a temporary file in the same folder, then rename into place."""
    temporary = path.with_name(f".{path.name}.tmp")
    write(temporary)
    os.replace(temporary, path)


def store(directory: Path, key: str, entry: TrainingEntry) -> None:
    """Write the entry's scores, then its record (the record commits the entry)."""
    directory.mkdir(parents=True, exist_ok=True)
    scores = pl.DataFrame(
        {
            "fold": entry.fold.astype(np.int32),
            "p_poor": entry.p_poor.astype(np.float64),
            "in_sample_p_poor": entry.in_sample_p_poor.astype(np.float64),
        }
    )
    scores_file = scores_path(directory, entry.model)
    _replace_atomically(scores_file, lambda target: scores.write_parquet(target))
    record = {
        "format": CACHE_FORMAT,
        "key": key,
        "model": entry.model,
        "auc": entry.auc,
        "n_train": entry.n_train,
        "cv_scheme": entry.cv_scheme,
        "final_n_train": entry.final_n_train,
        "in_sample_auc": entry.in_sample_auc,
        "scores": scores_file.name,
        "scores_sha256": file_sha256(scores_file),
        "artifact": entry.artifact_path.name,
        "artifact_sha256": entry.artifact_sha256,
    }
    _replace_atomically(
        record_path(directory, entry.model),
        lambda target: target.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8"),
    )


def lookup(directory: Path, key: str, model: str) -> TrainingEntry | None:
    """The model's entry for this key; None when there is none (or it is for another key).

    Raises CacheEntryRejected when an entry for this key exists but a file does not match
    its recorded hash (tampered, corrupted or half-written).
    """
    record_file = record_path(directory, model)
    if not record_file.is_file():
        return None
    try:
        record = json.loads(record_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CacheEntryRejected(f"{record_file}: unreadable ({error})") from None
    if not isinstance(record, dict) or record.get("key") != key:
        return None
    if record.get("format") != CACHE_FORMAT or record.get("model") != model:
        return None
    scores_file = directory / str(record.get("scores"))
    artifact = directory / str(record.get("artifact"))
    _check_hash(scores_file, record.get("scores_sha256"))
    _check_hash(artifact, record.get("artifact_sha256"))
    try:
        sidecar_hash = read_sidecar(artifact).get("artifact_sha256")
    except (ArtifactIntegrityError, OSError, ValueError) as error:
        raise CacheEntryRejected(str(error)) from None
    if sidecar_hash != record.get("artifact_sha256"):
        raise CacheEntryRejected(f"{artifact}: its sidecar records another SHA-256")
    scores = pl.read_parquet(scores_file)
    return TrainingEntry(
        model=model,
        fold=scores["fold"].to_numpy(),
        p_poor=scores["p_poor"].to_numpy(),
        in_sample_p_poor=scores["in_sample_p_poor"].to_numpy(),
        auc=float(record["auc"]),
        n_train=int(record["n_train"]),
        cv_scheme=str(record["cv_scheme"]),
        final_n_train=int(record["final_n_train"]),
        in_sample_auc=float(record["in_sample_auc"]),
        artifact_path=artifact,
        artifact_sha256=str(record["artifact_sha256"]),
    )


def _check_hash(path: Path, recorded: object) -> None:
    """Refuse a file that is missing or whose bytes do not match the recorded SHA-256."""
    if not path.is_file():
        raise CacheEntryRejected(f"{path}: missing")
    actual = file_sha256(path)
    if actual != recorded:
        raise CacheEntryRejected(f"{path}: SHA-256 {actual} does not match the record")
