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
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:  # readers imports the config, which imports this module
    from transforms.readers import RawTable

SOURCE_ROW = "__source_row"
"""1-based data row number in the raw file (every raw frame carries it)."""
ROW_PROBLEM = "__row_problem"
"""Why a raw row as a whole cannot be used (null when it can)."""

REFERENCE = re.compile(r"^(?P<module>[^:]+):(?P<function>[A-Za-z_]\w*)$")
MODULE_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


@dataclass(frozen=True)
class HookContext:
    """What a hook may need besides the frame: the raw file it came from."""

    source: Path
    """The raw input file (read sibling files, e.g. expenditure modules, relative to it)."""


Hook = Callable[[pl.LazyFrame, HookContext], pl.LazyFrame | pl.DataFrame]


def resolve_reference(reference: str, base_dir: Path | None) -> str:
    """Check a hook reference's syntax; a 'file.py:function' becomes an absolute file path."""
    match = REFERENCE.match(reference.strip())
    if not match:
        raise ValueError(f"{reference!r}: expected 'package.module:function' or 'file.py:function'")
    module, function = match["module"], match["function"]
    if module.endswith(".py"):
        path = Path(module).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        return f"{path.resolve()}:{function}"
    if not MODULE_PATH.match(module):
        raise ValueError(f"{reference!r}: {module!r} is not a module path")
    return f"{module}:{function}"


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


def _count(frame: pl.LazyFrame) -> tuple[int, int]:
    """Rows and distinct source rows of a frame."""
    counts = frame.select(pl.len(), pl.col(SOURCE_ROW).n_unique()).collect()
    return int(counts.item(0, 0)), int(counts.item(0, 1))


def apply_hooks(raw: RawTable, references: Sequence[str]) -> RawTable:
    """Run the configured hooks in order; the result must keep every row and the index."""
    from transforms.readers import IngestError, RawTable

    if not references:
        return raw
    frame = raw.frame
    rows, _ = _count(frame)
    for reference in references:
        try:
            result = load_hook(reference)(frame, HookContext(source=raw.path))
        except ValueError as error:
            raise IngestError(f"{raw.path}: preprocess hook {error}") from None
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
