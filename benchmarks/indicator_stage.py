"""The indicator stage alone (targeting, matching, fiscal, with SEs) against a one-scan floor.

Usage (from the repository root):
    .venv/bin/python -m benchmarks.indicator_stage [--scale 1m|10m] [--repeats 3] [--profile]
The stage calls the table functions the programme-targeting, resource-matching and
fiscal-feedback tasks call (transforms/tables.py), directly, without Prefect, on the analysis
frame built as the flow builds it (benchmarks/analysis.py, cached). The fiscal stage's PMT
selections come from stand-in scores (one per enabled model; training is not part of this
stage) put through the same rule (transforms.tables.pmt_selections). The floor is one DuckDB
scan of the analysis parquet computing weighted sums by region. Writes
benchmarks/results/indicator_stage-<scale>.json: indicator_seconds, floor_seconds, ratio and
per-stage seconds (best of --repeats, perf_counter); --profile adds one cProfile pass listing
the functions that take the time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from benchmarks.analysis import (
    ROOT,
    AnalysisInputs,
    analysis_inputs,
    load_average,
    staged_analysis,
    write_result,
)
from transforms import tables
from transforms.config import AuditConfig
from transforms.pmt_evaluation import ModelScores

FLOOR_SQL = """
-- the floor: one pass over the analysis table, weighted sums by region
SELECT
    region,
    count(*) AS households,
    sum(weight) AS weighted_households,
    sum(person_weight) AS persons,
    sum(weight * welfare) AS weighted_welfare,        -- currency/person/year x households
    sum(weight * benefit__0) AS weighted_benefit  -- the first programme, currency per household
FROM {source}
GROUP BY region
"""
PROFILE_TOP = 25
PIPELINE = ("transforms/", "flows/", "models/")

Stage = Callable[[], object]


def stand_in_scores(frame: pl.DataFrame, config: AuditConfig) -> list[ModelScores]:
    """A noisy p_poor per enabled model, from welfare relative to the line (seeded, aligned)."""
    rng = np.random.default_rng(7)
    welfare = frame["welfare_pre"].to_numpy() + 1.0
    gap = np.log(welfare) - np.log(frame["poverty_line"].to_numpy())
    folds = np.zeros(frame.height, dtype=np.int64)
    return [
        ModelScores(
            model=name,
            p_poor=1.0 / (1.0 + np.exp(4.0 * gap + rng.normal(0.0, 1.0, frame.height))),
            fold=folds,
            auc=float("nan"),
            n_train=0,
            cv_scheme="stand-in",
            artifact_sha256="",
        )
        for name in config.models.enabled
    ]


def stages(inputs: AnalysisInputs, staged: pl.DataFrame, frame: pl.DataFrame) -> dict[str, Stage]:
    """The stage's steps in flow order, each a call of the table function its task calls."""
    config = inputs.config
    regions = pl.read_parquet(inputs.regions) if inputs.regions else None
    projection = pl.read_parquet(inputs.projection) if inputs.projection else None
    unit = config.targeting.unit
    measured = tables.measures(config.programmes, config.poverty_lines)
    scores = stand_in_scores(measured[0].frame(frame), config)
    return {
        "targeting": lambda: tables.programme_targeting(
            staged,
            measured,
            targeting=config.targeting,
            disclosure=config.disclosure,
            run_id="bench",
        ),
        "matching": lambda: tables.matching(
            frame,
            regions,
            measured,
            programmes=config.programmes,
            targeting=config.targeting,
            disclosure=config.disclosure,
            run_id="bench",
        ),
        "fiscal_pmt_selections": lambda: tables.pmt_selections(
            measured[0].frame(frame), scores, unit=unit
        ),
        "fiscal": lambda: tables.fiscal(
            frame,
            projection,
            measured,
            programmes=config.programmes,
            scores=scores,
            settings=config.fiscal,
            unit=unit,
            run_id="bench",
        ),
    }


def time_once(work: Stage) -> float:
    """Wall seconds of one call."""
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def floor(analysis: Path, frame: pl.DataFrame, repeats: int) -> dict[str, float]:
    """Best wall seconds of the floor query on the parquet file and on the in-memory frame."""
    with duckdb.connect() as con:
        con.register("analysis_frame", frame)
        on_file = FLOOR_SQL.format(source=f"read_parquet('{analysis}')")
        in_memory = FLOOR_SQL.format(source="analysis_frame")
        return {
            "parquet": min(time_once(lambda: con.sql(on_file).fetchall()) for _ in range(repeats)),
            "in_memory": min(
                time_once(lambda: con.sql(in_memory).fetchall()) for _ in range(repeats)
            ),
        }


def profile(steps: dict[str, Stage]) -> dict[str, list[dict[str, object]]]:
    """One cProfile pass over the stage: pipeline functions by cumulative time, hottest leaves."""
    profiler = cProfile.Profile()
    profiler.enable()
    for work in steps.values():
        work()
    profiler.disable()
    stats = pstats.Stats(profiler, stream=io.StringIO())
    rows = []
    for (file, line, name), (_, calls, own, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        where = file.split("/site-packages/")[-1].removeprefix(f"{ROOT}/")
        rows.append(
            {
                "function": f"{where}:{line}({name})",
                "calls": calls,
                "cumulative_seconds": round(cumulative, 3),
                "own_seconds": round(own, 3),
            }
        )
    ours = [r for r in rows if str(r["function"]).startswith(PIPELINE)]
    ours.sort(key=lambda row: -float(str(row["cumulative_seconds"])))
    rows.sort(key=lambda row: -float(str(row["own_seconds"])))
    return {"pipeline_cumulative": ours[:PROFILE_TOP], "leaves_own": rows[:PROFILE_TOP]}


def main() -> None:
    """Time the indicator stage and the floor, write JSON (and a profile when asked)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--scale", default="1m", help="cached survey: benchmarks/cache/survey-<scale>"
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed passes (best kept)")
    parser.add_argument("--profile", action="store_true", help="add one cProfile pass")
    args = parser.parse_args()
    machine_load = load_average()
    inputs = analysis_inputs(args.scale)
    load_started = time.perf_counter()
    staged = staged_analysis(inputs.analysis)  # the targeting task's read (DuckDB staging)
    load_staged = time.perf_counter() - load_started
    frame = pl.read_parquet(inputs.analysis)  # the matching and fiscal tasks' read
    load_parquet = time.perf_counter() - load_started - load_staged
    steps = stages(inputs, staged, frame)
    passes = [{name: time_once(work) for name, work in steps.items()} for _ in range(args.repeats)]
    best = {name: min(p[name] for p in passes) for name in steps}
    # the fiscal stage: its PMT selections plus fiscal_indicators and the projection
    best["fiscal"] = min(sum(v for k, v in p.items() if k.startswith("fiscal")) for p in passes)
    indicator = min(sum(p.values()) for p in passes)
    floors = floor(inputs.analysis, frame, args.repeats)
    payload: dict[str, object] = {
        "indicator_seconds": round(indicator, 3),
        "floor_seconds": round(floors["parquet"], 4),
        "ratio": round(indicator / floors["parquet"], 1),
        "per_stage_seconds": {name: round(seconds, 3) for name, seconds in best.items()},
        "floor_in_memory_seconds": round(floors["in_memory"], 4),
        "ratio_in_memory": round(indicator / floors["in_memory"], 1),
        "load_seconds": {
            "duckdb_staging": round(load_staged, 3),
            "parquet": round(load_parquet, 3),
        },
        "households": frame.height,
        "psus": frame["psu"].n_unique(),
        "repeats": args.repeats,
        "passes_seconds": [{k: round(v, 3) for k, v in p.items()} for p in passes],
        "indicator_definition": (
            "targeting + matching + fiscal (PMT selections, fiscal_indicators, projection), "
            "summed within a pass, best pass; loading the frame excluded (load_seconds)"
        ),
        "load_average_start": machine_load,
        "note": "wall times on a 2-core machine possibly shared with other work",
    }
    if args.profile:
        payload["profile_top"] = profile(steps)
    write_result("indicator_stage", args.scale, payload)


if __name__ == "__main__":
    main()
