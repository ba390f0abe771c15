"""Before/after check of a refactor: one audit's published tables, dumped and compared.

    # before the change (e.g. in a worktree of the old commit):
    python -m tests.published_snapshot dump --warehouse before.duckdb --out snapshots/before
    # after it:
    python -m tests.published_snapshot dump --warehouse after.duckdb --out snapshots/after
    python -m tests.published_snapshot compare snapshots/before snapshots/after

``dump`` writes every table of schema ``audit`` of the latest successful run (or
``--run-id``) to one Parquet file per table, without the columns that differ between any two
runs (run ids, timestamps, paths, the code version); rows are sorted on every column, so row
order does not matter. ``compare`` prints, per table, the columns added or removed and the
rows that differ, and exits 1 when anything differs beyond ``--allow`` (``table`` or
``table.column``). Only duckdb and polars are imported, so the script runs on any commit.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb
import polars as pl

VOLATILE = frozenset(
    {
        "run_id",
        "started_at",
        "finished_at",
        "previous_run_id",
        "config_path",
        "code_version",
        "source_file",
        "path",
    }
)


def latest_run(con: duckdb.DuckDBPyConnection) -> str:
    """The newest successful run of the attached warehouse."""
    rows = con.sql(
        "SELECT run_id FROM audit.runs WHERE status = 'succeeded' ORDER BY finished_at DESC LIMIT 1"
    ).fetchall()
    if not rows:
        raise SystemExit("no successful run in the warehouse")
    return str(rows[0][0])


def dump(warehouse: Path, out: Path, run_id: str | None) -> list[str]:
    """One Parquet file per audit table, rows of one run, volatile columns dropped."""
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"ATTACH '{warehouse}' AS snapshot (READ_ONLY); USE snapshot")
    chosen = run_id or latest_run(con)
    names = [
        row[0]
        for row in con.sql(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'audit' "
            "AND database_name = 'snapshot' UNION ALL "
            # tables stored in files (#19) are views named like the table, with a run_id
            "SELECT view_name FROM duckdb_views() WHERE schema_name = 'audit' "
            "AND database_name = 'snapshot' AND view_name NOT LIKE 'latest\\_%' ESCAPE '\\' "
            "AND view_name <> 'changes'"
        ).fetchall()
    ]
    for name in sorted(names):
        frame = con.sql(f"SELECT * FROM audit.{name} WHERE run_id = ?", params=[chosen]).pl()
        kept = frame.select([c for c in frame.columns if c not in VOLATILE])
        if kept.width:
            kept = kept.sort(kept.columns, nulls_last=True)
        kept.write_parquet(out / f"{name}.parquet")
    return sorted(names)


def only_in(first: pl.DataFrame, second: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Rows of ``first`` with no equal row in ``second`` (on ``columns``, nulls equal)."""
    return first.select(columns).join(
        second.select(columns), on=columns, how="anti", nulls_equal=True
    )


def compare(before: Path, after: Path, allowed: set[str]) -> bool:
    """Print, table by table, columns added or removed and rows only before or only after
    (on the shared columns); True when every difference is allowed."""
    ok = True
    names = sorted(
        {p.stem for p in before.glob("*.parquet")} | {p.stem for p in after.glob("*.parquet")}
    )
    for name in names:
        old, new = before / f"{name}.parquet", after / f"{name}.parquet"
        if not old.exists() or not new.exists():
            print(f"{name}: only {'after' if new.exists() else 'before'}")
            ok = ok and name in allowed
            continue
        left, right = pl.read_parquet(old), pl.read_parquet(new)
        removed = [c for c in left.columns if c not in right.columns]
        added = [c for c in right.columns if c not in left.columns]
        shared = [c for c in left.columns if c in right.columns]
        gone, new_rows = only_in(left, right, shared), only_in(right, left, shared)
        if not (removed or added or gone.height or new_rows.height):
            print(f"{name}: identical ({left.height} rows)")
            continue
        print(
            f"{name}: {gone.height} rows only before, {new_rows.height} only after; "
            f"columns removed {removed}, added {added}"
        )
        changed = {c for c in shared if not _same(gone, new_rows, c)}
        for label, rows in (("before", gone), ("after", new_rows)):
            if rows.height:
                print(f"  only {label} (first 5):")
                print(rows.head(5).select(sorted(changed) or rows.columns[:6]))
        differing = {f"{name}.{c}" for c in [*removed, *added, *changed]}
        if name not in allowed and not differing <= allowed:
            ok = False
    return ok


def _same(left: pl.DataFrame, right: pl.DataFrame, column: str) -> bool:
    """Whether one column holds the same multiset of values in two row sets."""
    if left.height != right.height:
        return False
    return bool(
        left[column].sort(nulls_last=True).eq_missing(right[column].sort(nulls_last=True)).all()
    )


def main() -> None:
    """dump or compare, as the module docstring shows."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    dumping = commands.add_parser("dump")
    dumping.add_argument("--warehouse", type=Path, required=True)
    dumping.add_argument("--out", type=Path, required=True)
    dumping.add_argument("--run-id")
    comparing = commands.add_parser("compare")
    comparing.add_argument("before", type=Path)
    comparing.add_argument("after", type=Path)
    comparing.add_argument("--allow", action="append", default=[])
    args = parser.parse_args()
    if args.command == "dump":
        print("dumped:", ", ".join(dump(args.warehouse, args.out, args.run_id)))
        return
    sys.exit(0 if compare(args.before, args.after, set(args.allow)) else 1)


if __name__ == "__main__":
    main()
