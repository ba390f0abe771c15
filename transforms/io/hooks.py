"""Pre-processing hooks: plain functions, named in the config, applied to a raw file before mapping.

A hook is referenced as ``"package.module:function"`` (importable) or ``"file.py:function"``
(a file next to the configuration). It receives the raw table as a polars LazyFrame, with
the raw columns plus ``__source_row`` and ``__row_problem``, and a :class:`HookContext`; it
returns a LazyFrame (or DataFrame) with the same rows, keeping those two columns, to which it
may add or change columns, e.g. a welfare aggregate derived from expenditure modules. The
column map then reads the new columns like any raw column, and the row rules and
quarantine apply as usual. A hook that adds or loses rows is an error: rows are never
dropped silently. Hooks are code: reference only files you trust.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from transforms.config import AuditConfig, ConfigError
from transforms.raw import ROW_PROBLEM, SOURCE_ROW, IngestError, RawTable


@dataclass(frozen=True)
class HookContext:
    """What a hook may need besides the frame: the raw file it came from."""

    source: Path
    """The raw input file (read sibling files, e.g. expenditure modules, relative to it)."""


Hook = Callable[[pl.LazyFrame, HookContext], pl.LazyFrame | pl.DataFrame]


def load_hook(reference: str) -> Hook:
    """Import a resolved hook reference; errors name the reference."""
    module_name, function = reference.rsplit(":", 1)
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.is_file():
                raise FileNotFoundError(f"no file {path}")
            spec = importlib.util.spec_from_file_location(f"welfare_audit_hook_{path.stem}", path)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load {path}")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except Exception as error:  # the hook's own import errors, shown with their reference
        problem = f"{type(error).__name__}: {error}"
        raise ValueError(f"{reference!r}: cannot import ({problem})") from None
    hook = getattr(module, function, None)
    if not callable(hook):
        raise ValueError(f"{reference!r}: {module_name} has no function {function!r}")
    return hook


LoadedHook = tuple[str, Hook]
"""A hook's reference (as written in errors) and the function it names."""


@dataclass(frozen=True)
class UserCode:
    """The audit's own code, imported once when a run starts (hooks are trusted code)."""

    hooks: Mapping[str, tuple[LoadedHook, ...]] = field(default_factory=dict)
    """Per input role (households, members, regions, projection): its preprocess hooks."""
    stages: tuple[tuple[str, Callable[..., Any]], ...] = ()
    """The [extensions] stages, in order."""

    def hooks_for(self, role: str) -> tuple[LoadedHook, ...]:
        """The hooks of one input file (none when it has none)."""
        return tuple(self.hooks.get(role, ()))


def load_user_code(config: AuditConfig) -> UserCode:
    """Import every preprocess hook and extension stage of the config, once, before any work.

    Raises ConfigError naming the key (``inputs.households.preprocess[0]``) of a reference
    that cannot be imported or does not name a function.
    """
    hooks: dict[str, tuple[LoadedHook, ...]] = {}
    for role in ("households", "members", "regions", "projection"):
        spec = getattr(config.inputs, role)
        if spec is None:
            continue
        hooks[role] = tuple(
            (reference, _load(f"inputs.{role}.preprocess[{index}]", reference))
            for index, reference in enumerate(spec.preprocess)
        )
    stages = tuple(
        (reference, _load(f"extensions.stages[{index}]", reference))
        for index, reference in enumerate(config.extensions.stages)
    )
    return UserCode(hooks=hooks, stages=stages)


def _load(key: str, reference: str) -> Hook:
    """load_hook with its failure as a ConfigError naming the key."""
    try:
        return load_hook(reference)
    except ValueError as error:
        raise ConfigError(f"{key}: {error}") from None


def _count(frame: pl.LazyFrame) -> tuple[int, int]:
    """Rows and distinct source rows of a frame."""
    counts = frame.select(pl.len(), pl.col(SOURCE_ROW).n_unique()).collect()
    return int(counts.item(0, 0)), int(counts.item(0, 1))


def apply_hooks(raw: RawTable, hooks: Sequence[LoadedHook]) -> RawTable:
    """Run the configured hooks in order; the result must keep every row and the index."""
    if not hooks:
        return raw
    frame = raw.frame
    rows, _ = _count(frame)
    for reference, hook in hooks:
        try:
            result = hook(frame, HookContext(source=raw.path))
        except Exception as error:
            raise IngestError(
                f"{raw.path}: preprocess hook {reference!r} failed "
                f"({type(error).__name__}: {error})"
            ) from error
        if isinstance(result, pl.DataFrame):
            result = result.lazy()
        if not isinstance(result, pl.LazyFrame):
            raise IngestError(
                f"{raw.path}: preprocess hook {reference!r} returned {type(result).__name__}, "
                "not a polars LazyFrame or DataFrame"
            )
        names = result.collect_schema().names()
        missing = [c for c in (SOURCE_ROW, ROW_PROBLEM) if c not in names]
        if missing:
            raise IngestError(
                f"{raw.path}: preprocess hook {reference!r} dropped the column(s) "
                f"{', '.join(missing)}; hooks must keep them"
            )
        after, distinct = _count(result)
        if after != rows or distinct != rows:
            raise IngestError(
                f"{raw.path}: preprocess hook {reference!r} changed the rows ({rows} in, "
                f"{after} out, {distinct} distinct {SOURCE_ROW}); hooks must keep every row "
                "once (bad rows are quarantined after mapping, never dropped)"
            )
        frame = result.sort(SOURCE_ROW)
    columns = tuple(c for c in frame.collect_schema().names() if c not in (SOURCE_ROW, ROW_PROBLEM))
    return RawTable(raw.path, frame, columns)
