"""An LSMS-style Stata survey built from the generator: other names, labels, no design.

The stand-in survey of docs/tutorial-stata.md. From the repository root:

    .venv/bin/python -m tests.lsms --out my_survey --households 2500 --seed 5

writes my_survey/hh_mod_a.dta (households) and my_survey/hh_mod_b.dta (members) and nothing
else: the generator's own files, its config and its true parameters stay out of sight.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import polars as pl
import pyreadstat

from transforms.sample.files import write_synthetic_survey

RELATION = {
    1: "Head",
    2: "Spouse",
    3: "Child",
    4: "Parent",
    5: "Grandchild",
    6: "Other relative",
    7: "Not related",
}
HOUSEHOLD_LABELS = {
    "hhid": "Household identifier",
    "region": "Region of residence",
    "reside": "Urban/rural",
    "hh_wgt": "Household sampling weight",
    "hhsize": "Household size",
    "rexpagg": "Total annual household consumption, excluding transfers",
    "hh_f10": "Number of rooms occupied",
    "hh_f08": "Main roof material",
    "hh_f09": "Main floor material",
    "hh_f19": "Dwelling has electricity",
    "hh_f34": "Number of mobile phones",
    "ag_land": "Agricultural land owned (ha)",
}
MEMBER_LABELS = {
    "hhid": "Household identifier",
    "pid": "Person line number",
    "hh_b03": "Sex",
    "hh_b04": "Relationship to household head",
    "hh_b05a": "Age in completed years",
    "hh_c08": "Completed years of schooling",
}


def write_lsms_survey(out: Path, *, households: int, seed: int) -> dict[str, int]:
    """hh_mod_a.dta (households) and hh_mod_b.dta (members) with Stata labels; rows by file."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lsms-source-") as scratch:
        source = Path(scratch)
        write_synthetic_survey(source, households=households, seed=seed, file_format="parquet")
        hh = pl.read_parquet(source / "households.parquet")
        members = pl.read_parquet(source / "members.parquet")
        regions = pl.read_parquet(source / "regions.parquet")
    codes = {code: i + 1 for i, code in enumerate(regions["prov_code"])}
    region_labels = {i + 1: name for i, name in enumerate(regions["prov_name"])}
    households_dta = hh.select(
        pl.col("HHID").str.replace("R", "").alias("hhid"),
        pl.col("prov_code").replace_strict(codes).cast(pl.Int32).alias("region"),
        pl.col("area").cast(pl.Int32).alias("reside"),
        pl.col("wt_hh").alias("hh_wgt"),
        pl.col("hhsize").cast(pl.Int32),
        (pl.col("pcexp") * pl.col("hhsize") - pl.col("prog_amt")).alias("rexpagg"),
        pl.col("q_rooms").alias("hh_f10"),
        pl.col("q_roof").alias("hh_f08"),
        pl.col("q_floor").alias("hh_f09"),
        pl.col("q_elec").alias("hh_f19"),
        pl.col("q_phone").alias("hh_f34"),
        pl.col("q_land_ha").alias("ag_land"),
    )
    pyreadstat.write_dta(
        households_dta.to_pandas(),
        str(out / "hh_mod_a.dta"),
        column_labels=HOUSEHOLD_LABELS,
        variable_value_labels={
            "region": region_labels,
            "reside": {1: "Urban", 2: "Rural"},
            "hh_f08": {1: "Grass", 2: "Iron sheets", 3: "Clay tiles", 4: "Concrete"},
            "hh_f09": {1: "Sand", 2: "Smoothed mud", 3: "Smooth cement", 4: "Tile"},
        },
    )
    members_dta = members.select(
        pl.col("HHID").str.replace("R", "").alias("hhid"),
        pl.col("PID").cast(pl.Int32).alias("pid"),
        pl.col("gender").cast(pl.Int32).alias("hh_b03"),
        pl.col("rel_head").cast(pl.Int32).alias("hh_b04"),
        pl.col("age_yrs").cast(pl.Int32).alias("hh_b05a"),
        pl.col("educ_yrs").cast(pl.Int32).alias("hh_c08"),
    )
    pyreadstat.write_dta(
        members_dta.to_pandas(),
        str(out / "hh_mod_b.dta"),
        column_labels=MEMBER_LABELS,
        variable_value_labels={"hh_b03": {1: "Male", 2: "Female"}, "hh_b04": RELATION},
    )
    return {"hh_mod_a.dta": households_dta.height, "hh_mod_b.dta": members_dta.height}


def main(argv: list[str] | None = None) -> None:
    """Write the stand-in survey where --out says and print what was written."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.lsms",
        description="Write an LSMS-style Stata survey (hh_mod_a.dta, hh_mod_b.dta) to --out.",
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--households", type=int, default=2500, help="number of households")
    parser.add_argument("--seed", type=int, default=5, help="random seed (same seed, same data)")
    args = parser.parse_args(argv)
    rows = write_lsms_survey(args.out, households=args.households, seed=args.seed)
    for name, count in rows.items():
        print(f"{args.out / name}: {count:,} rows")


if __name__ == "__main__":
    main()
