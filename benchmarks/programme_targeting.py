"""Programme targeting table: our linearised estimates against R `survey`, timed and compared.

Usage (from the repository root):
    .venv/bin/python -m benchmarks.programme_targeting [--scale 1m] [--repeats 3]
The analysis frame is built as the audit flow builds it (benchmarks/analysis.py, cached). Timed
(in-process, perf_counter, best of --repeats): exactly what the programme-targeting task computes,
add_indicator_columns -> targeting_rates -> wide_rates, on the compared groups (like for like with
R) and on all of the pipeline's groups (the published table). R (benchmarks/programme_targeting.R)
computes the same published rates with svyratio / svyby on the same design and is timed inside R.
Writes benchmarks/results/programme_targeting-<scale>.json: ours_seconds, r_seconds, speedup,
max_abs_diff_estimate, max_abs_diff_se, rows (compared estimates), groups, and details.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import polars as pl

from benchmarks.analysis import (
    AnalysisInputs,
    analysis_inputs,
    load_average,
    staged_analysis,
    write_result,
)
from transforms.config import AuditConfig
from transforms.survey import Design
from transforms.targeting import (
    BOTTOM_SHARE,
    DIFFERENCES,
    RATES,
    RATIOS,
    add_indicator_columns,
    analysis_design,
    available_groups,
    targeting_rates,
    wide_rates,
)

HERE = Path(__file__).resolve().parent
R_SCRIPT = HERE / "programme_targeting.R"
COMPARED_GROUPS = ("region", "quintile", "urban")
DERIVED = {"cgh": ("cgh_share", BOTTOM_SHARE)}  # targeting_rates: cgh = cgh_share / 0.4
KEYS = ["group_type", "group_value", "statistic"]
DECIMALS = 6
T = TypeVar("T")


def indicator_frame(frame: pl.DataFrame, config: AuditConfig) -> pl.DataFrame:
    """The programme's indicator columns, as measure_programme_targeting adds them."""
    return add_indicator_columns(
        frame, selected="receives_benefit", benefit="benefit", unit=config.targeting.unit
    )


def programme_table(
    frame: pl.DataFrame, config: AuditConfig, design: Design, groups: list[str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The task's computation: (long estimates, wide table) of the programme's targeting rates."""
    long = targeting_rates(indicator_frame(frame, config), design=design, groups=groups)
    return long, wide_rates(long)


def best_of(repeats: int, work: Callable[[], T]) -> tuple[float, T]:
    """Minimum wall seconds over ``repeats`` calls, and the last call's result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - started)
    assert result is not None
    return best, result


def rate_spec() -> pl.DataFrame:
    """One row per published rate: the ratio (or difference of ratios) R has to estimate."""
    rows = []
    for rate in RATES:
        numerator_b = denominator_b = None
        if rate in DIFFERENCES:
            first, second = DIFFERENCES[rate]
            (numerator, denominator), (numerator_b, denominator_b) = RATIOS[first], RATIOS[second]
            divisor = 1.0
        else:
            base, divisor = DERIVED.get(rate, (rate, 1.0))
            numerator, denominator = RATIOS[base]
        rows.append(
            {
                "statistic": rate,
                "numerator": numerator,
                "denominator": denominator,
                "numerator_b": numerator_b,
                "denominator_b": denominator_b,
                "divisor": divisor,
            }
        )
    spec = pl.DataFrame(
        rows, schema_overrides={"numerator_b": pl.String, "denominator_b": pl.String}
    )
    columns = ("numerator", "denominator", "numerator_b", "denominator_b")
    return spec.with_columns(pl.col(c).str.strip_prefix("__") for c in columns)


def r_input(indicators: pl.DataFrame, design: Design, groups: list[str]) -> pl.DataFrame:
    """Columns R needs: w, strata, psu (integer codes), indicator columns, groups as text."""
    assert design.strata is not None and design.psu is not None
    columns = sorted({c for pair in RATIOS.values() for c in pair})
    return indicators.select(
        pl.col(design.weight).alias("w"),
        pl.col(design.strata).cast(pl.String).alias("strata"),
        pl.struct(design.strata, design.psu).rank("dense").alias("psu"),
        *[pl.col(c).alias(c.removeprefix("__")) for c in columns],
        *[pl.col(g).cast(pl.String) for g in groups],
    )


def run_r(
    inputs: AnalysisInputs, table: pl.DataFrame, design: Design, groups: list[str]
) -> tuple[pl.DataFrame, dict[str, object]]:
    """Write R's inputs to the cache, run the R script, read its estimates and timing."""
    folder = inputs.directory
    data, spec = folder / "programme_targeting_r_input.csv", folder / "programme_targeting_spec.csv"
    out, timing = folder / "programme_targeting_r.csv", folder / "programme_targeting_r.json"
    table.write_csv(data)
    rate_spec().write_csv(spec)
    command = [
        "Rscript", str(R_SCRIPT), str(data), str(spec), ",".join(groups),
        design.lonely_psu, str(out), str(timing),
    ]  # fmt: skip
    subprocess.run(command, check=True)
    estimates = pl.read_csv(
        out,
        schema_overrides={"group_value": pl.String, "estimate": pl.Float64, "se": pl.Float64},
        null_values="NA",
    )
    return estimates, json.loads(timing.read_text())


def compare(ours: pl.DataFrame, theirs: pl.DataFrame) -> dict[str, object]:
    """Max absolute differences of estimates and SEs; rows must match one to one.

    A rate whose denominator is zero in a domain (e.g. exclusion error where nobody is poor) is
    null in ours and NA or NaN in R: such rows must be undefined on both sides and are counted.
    """
    undefined = [pl.col(c).fill_nan(None) for c in ("estimate", "se")]
    joined = (
        ours.select(*KEYS, "estimate", "se")
        .with_columns(undefined)
        .join(theirs.with_columns(undefined), on=KEYS, how="full", suffix="_r", nulls_equal=True)
    )
    unmatched = joined.filter(pl.col("statistic").is_null() | pl.col("statistic_r").is_null())
    mismatched = joined.filter(pl.col("estimate").is_null() != pl.col("estimate_r").is_null())
    if unmatched.height or mismatched.height:
        raise AssertionError(f"unmatched:\n{unmatched}\nundefined on one side:\n{mismatched}")
    diffs = joined.select(
        (pl.col("estimate") - pl.col("estimate_r")).abs().max().alias("estimate"),
        (pl.col("se") - pl.col("se_r")).abs().max().alias("se"),
        pl.col("estimate").is_null().sum().alias("undefined"),
    ).row(0, named=True)
    tolerance = 0.5 * 10.0**-DECIMALS
    return {
        "rows": joined.height,
        "rows_undefined_both": diffs["undefined"],
        "max_abs_diff_estimate": diffs["estimate"],
        "max_abs_diff_se": diffs["se"],
        f"agree_to_{DECIMALS}_decimals": diffs["estimate"] < tolerance and diffs["se"] < tolerance,
    }


def main() -> None:
    """Time the programme targeting table, run R on the same inputs, compare, write JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--scale", default="1m", help="cached survey: benchmarks/cache/survey-<scale>"
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of ours (best kept)")
    parser.add_argument(
        "--groups", default=",".join(COMPARED_GROUPS), help="comma-separated groups compared with R"
    )
    args = parser.parse_args()
    if shutil.which("Rscript") is None:
        raise SystemExit(
            "Rscript not found: the comparison needs R with the survey and data.table packages "
            "(Debian: apt-get install r-cran-survey r-cran-data.table)"
        )
    machine_load = load_average()
    inputs = analysis_inputs(args.scale)
    config, frame = inputs.config, staged_analysis(inputs.analysis)
    design = analysis_design(config.targeting.unit)
    groups = [g for g in args.groups.split(",") if g]
    pipeline_groups = available_groups(config.targeting, frame.columns)

    ours_seconds, (long, _) = best_of(
        args.repeats, lambda: programme_table(frame, config, design, groups)
    )
    full_seconds, _ = best_of(
        args.repeats, lambda: programme_table(frame, config, design, pipeline_groups)
    )
    rates_seconds, _ = best_of(
        args.repeats,
        lambda: targeting_rates(indicator_frame(frame, config), design=design, groups=groups),
    )
    table = r_input(indicator_frame(frame, config), design, groups)
    theirs, r_timing = run_r(inputs, table, design, groups)
    r_seconds = float(str(r_timing["r_seconds"]))
    write_result(
        "programme_targeting",
        args.scale,
        {
            "ours_seconds": round(ours_seconds, 4),
            "r_seconds": r_seconds,
            "speedup": round(r_seconds / ours_seconds, 1),
            **compare(long, theirs),
            "groups": ["all", *groups],
            "statistics": list(RATES),
            "households": frame.height,
            "strata": table["strata"].n_unique(),
            "psus": table["psu"].n_unique(),
            "lonely_psu": design.lonely_psu,
            "design": {"weight": design.weight, "strata": design.strata, "psu": design.psu},
            "ours_targeting_rates_only_seconds": round(rates_seconds, 4),
            "ours_full_table_seconds": round(full_seconds, 4),
            "full_table_groups": ["all", *pipeline_groups],
            "repeats": args.repeats,
            "r": r_timing,
            "r_method": "svydesign + one svyratio and one svyby per rate and group",
            "load_average_start": machine_load,
            "note": "wall times on a 2-core machine possibly shared with other work",
        },
    )


if __name__ == "__main__":
    main()
