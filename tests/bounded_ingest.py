"""Ingest and stage a survey as the ingest flow does, for a run under a memory limit.

Usage: python -m tests.bounded_ingest CONFIG WORK_DIR
Runs the transforms the ingest tasks call (row rules, staging, member features), in the
flow's order, without Prefect, and prints the counts as JSON. tests/test_limits.py starts
it in a cgroup whose memory limit is smaller than the member file; the benchmark case
``ingest_stage`` (benchmarks/run.py) measures it on the 1M and 10M surveys.

``write_wide_id_survey`` writes the test's survey: identifiers of 80 characters (as hashed
registry ids are), so the member file is large for its number of rows.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path

import polars as pl

ID_PARTS = 4


def long_identifier(index: pl.Expr, salt: int) -> pl.Expr:
    """An 80-character decimal identifier derived from an integer (like a hashed registry id)."""
    return pl.concat_str(
        [
            (index * 7919 + salt + part).hash(seed=part).cast(pl.String).str.zfill(20)
            for part in range(ID_PARTS)
        ]
    )


def write_wide_id_survey(folder: Path, *, households: int) -> Path:
    """Households and members CSV files with long identifiers, and their audit.toml."""
    folder.mkdir(parents=True, exist_ok=True)
    frame = pl.DataFrame({"index": pl.int_range(households, eager=True)}).with_columns(
        long_identifier(pl.col("index"), 0).alias("hh_id"),
        pl.format("R{}", pl.col("index") % 5).alias("region"),
        (pl.col("index") % 40).cast(pl.String).alias("psu"),
        (1 + pl.col("index") % 17).alias("hh_size"),
        (100.0 + pl.col("index") % 997).alias("welfare"),
        (pl.col("index") % 3 == 0).cast(pl.Int8).alias("receives"),
        (10.0 + pl.col("index") % 7).alias("weight"),
    )
    members = (
        frame.select("index", "hh_id", "hh_size")
        .with_columns(pl.int_ranges(0, "hh_size").alias("member"))
        .explode("member")
        .select(
            "hh_id",
            pl.concat_str("hh_id", pl.col("member").cast(pl.String), separator="-").alias(
                "person_id"
            ),
            ((pl.col("index") * 31 + pl.col("member") * 17) % 90).alias("age"),
            pl.when(pl.col("member") % 2 == 0)
            .then(pl.lit("F"))
            .otherwise(pl.lit("M"))
            .alias("sex"),
            (pl.col("member") == 0).cast(pl.Int8).alias("is_head"),
        )
    )
    frame.drop("index").write_csv(folder / "households.csv")
    members.write_csv(folder / "members.csv")
    config = folder / "audit.toml"
    config.write_text(
        """name = "wide identifiers"
[inputs.households]
path = "households.csv"
[inputs.households.columns]
hh_id = "hh_id"
region = "region"
psu = "psu"
weight = "weight"
hh_size = "hh_size"
welfare = "welfare"
receives_benefit = "receives"
[inputs.members]
path = "members.csv"
[inputs.members.columns]
hh_id = "hh_id"
person_id = "person_id"
age = "age"
sex = "sex"
is_head = "is_head"
[poverty_line]
method = "relative_percentile"
percentile = 0.2
"""
    )
    return config


def progress(step: str) -> None:
    """Say which step starts, with the peak memory so far (on stderr)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"{step} (peak so far {peak} MiB)", file=sys.stderr, flush=True)


def ingest_and_stage(config_path: Path, work_dir: Path) -> dict[str, int]:
    """Row rules, staging and member features, in the order of flows/ingest.py."""
    from transforms.config import load_config
    from transforms.io.ingest import ingest_households, ingest_members
    from transforms.io.memory import usable_memory
    from transforms.io.readers import read_raw
    from transforms.io.staging import loaded_household_ids, stage_loaded, stage_member_features
    from transforms.io.warehouse import connect_database

    config = load_config(config_path)
    inputs = config.inputs
    assert inputs.members is not None
    ingest_dir = work_dir / "ingest"
    progress("households")
    households = ingest_households(
        read_raw(inputs.households, work_dir), inputs.households, known_regions=None,
        work_dir=ingest_dir,
    )  # fmt: skip
    progress("members")
    members = ingest_members(
        read_raw(inputs.members, work_dir), inputs.members,
        household_ids=loaded_household_ids(households), work_dir=ingest_dir,
    )  # fmt: skip
    progress("staging")
    with connect_database(work_dir / "staging.duckdb") as staging:
        stage_loaded(staging, households, "stg_households")
        stage_loaded(staging, members, "stg_members")
        progress("member features")
        features = stage_member_features(staging)
        staged = staging.sql("SELECT count(*) FROM stg_members").fetchall()[0][0]
    return {
        "usable_memory_mib": usable_memory() // 2**20,
        "households_loaded": households.rows_loaded,
        "members_read": members.rows_read,
        "members_loaded": members.rows_loaded,
        "members_staged": int(staged),
        "feature_rows": features,
    }


if __name__ == "__main__":
    print(json.dumps(ingest_and_stage(Path(sys.argv[1]), Path(sys.argv[2]))))
