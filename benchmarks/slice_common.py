"""Shared by the pandas baseline and the pipeline slice: inputs, result files, the comparison.

Both scripts read the same cached survey (``benchmarks/cache/survey-<scale>``) or the same
development subset of it, and write ``benchmarks/results/<name>-<scale>[-<N>].json`` holding
wall seconds, stage seconds, peak RSS, the national key numbers and a flat ``numbers`` map
(``table|group_type|group_value|statistic`` -> [estimate, se]) that :func:`compare` checks.

Compare two result files (from the repository root):
    .venv/bin/python -m benchmarks.slice_common \\
        benchmarks/results/pandas_baseline-1m.json benchmarks/results/pipeline_slice-1m.json
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import shutil
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "benchmarks" / "cache"
RESULTS = ROOT / "benchmarks" / "results"
SCALES = ("1m", "10m")
KEY_RATES = ("poverty_rate", "coverage", "exclusion_error", "inclusion_error")
TOLERANCE = 1e-6


def survey_dir(scale: str, households: int | None) -> Path:
    """The cached survey of a scale, or a subset of whole PSUs with about ``households`` rows."""
    source = CACHE / f"survey-{scale}"
    if not (source / "audit.toml").is_file():
        raise SystemExit(f"{source}: no cached survey; run `python -m benchmarks.run` first")
    if households is None:
        return source
    target = CACHE / f"survey-{scale}-sub{households}"
    if not (target / "audit.toml").is_file():
        subset_survey(source, target, households)
    return target


def subset_survey(source: Path, target: Path, households: int) -> None:
    """Write every k-th PSU (file order) and its members, so every stratum keeps many PSUs."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    config = tomllib.loads((source / "audit.toml").read_text())
    hh_columns = config["inputs"]["households"]["columns"]
    member_id = config["inputs"]["members"]["columns"]["hh_id"]
    table = pq.read_table(source / config["inputs"]["households"]["path"])
    psu_order = pc.dictionary_encode(table[hh_columns["psu"]]).combine_chunks().indices
    step = max(1, table.num_rows // households)
    kept = table.filter(pa.array(psu_order.to_numpy() % step == 0))
    target.mkdir(parents=True, exist_ok=True)
    pq.write_table(kept, target / config["inputs"]["households"]["path"])
    members = pq.read_table(source / config["inputs"]["members"]["path"])
    wanted = pc.is_in(members[member_id], value_set=kept[hh_columns["hh_id"]])
    pq.write_table(members.filter(wanted), target / config["inputs"]["members"]["path"])
    for role in ("regions", "projection"):
        name = config["inputs"][role]["path"]
        shutil.copyfile(source / name, target / name)
    shutil.copyfile(source / "audit.toml", target / "audit.toml")


def peak_rss_mib() -> float:
    """This process's peak resident set size so far, in MiB (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def result_path(name: str, scale: str, households: int | None) -> Path:
    """benchmarks/results/<name>-<scale>.json, with -<N> for a development subset."""
    suffix = f"-{households}" if households is not None else ""
    return RESULTS / f"{name}-{scale}{suffix}.json"


def write_result(path: Path, payload: dict[str, Any]) -> None:
    """Write the result JSON and print it without the long ``numbers`` map."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n")
    shown = {key: value for key, value in payload.items() if key != "numbers"}
    shown["numbers"] = f"{len(payload['numbers'])} entries in {path}"
    print(json.dumps(shown, indent=2))


def compare(
    first: dict[str, Any], second: dict[str, Any], *, tolerance: float = TOLERANCE
) -> list[str]:
    """Lines describing numbers that are missing on one side or differ by more than tolerance."""
    a, b = first["numbers"], second["numbers"]
    problems = [f"only in {first['name']}: {key}" for key in sorted(a.keys() - b.keys())]
    problems += [f"only in {second['name']}: {key}" for key in sorted(b.keys() - a.keys())]
    for key in sorted(a.keys() & b.keys()):
        for label, x, y in zip(("estimate", "se"), a[key], b[key], strict=True):
            if x is None or y is None or math.isnan(x) or math.isnan(y):
                if (x is None or math.isnan(x)) != (y is None or math.isnan(y)):
                    problems.append(f"{key} {label}: {x} vs {y}")
            elif abs(x - y) > tolerance:
                problems.append(f"{key} {label}: {x:.9g} vs {y:.9g} (diff {x - y:.3g})")
    return problems


def main() -> None:
    """Compare two result files; exit 1 when they disagree."""
    parser = argparse.ArgumentParser(description="Compare the numbers of two slice results.")
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path)
    parser.add_argument("--tolerance", type=float, default=TOLERANCE)
    args = parser.parse_args()
    first, second = (json.loads(p.read_text()) for p in (args.first, args.second))
    problems = compare(first, second, tolerance=args.tolerance)
    for rate in KEY_RATES:
        x, y = first["key_numbers"][rate], second["key_numbers"][rate]
        print(
            f"{rate:16s} {x['estimate']:.8f} (SE {x['se']:.8f})   "
            f"{y['estimate']:.8f} (SE {y['se']:.8f})"
        )
    print(
        f"{len(first['numbers'])} vs {len(second['numbers'])} numbers; "
        f"{len(problems)} differ by more than {args.tolerance:g}"
    )
    for line in problems[:50]:
        print("  " + line)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
