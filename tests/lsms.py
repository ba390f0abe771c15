"""An LSMS-style Stata survey built from the generator: other names, labels, no design."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyreadstat

from transforms.survey_files import write_synthetic_survey

RELATION = {
    1: "Head",
    2: "Spouse",
    3: "Child",
    4: "Parent",
    5: "Grandchild",
    6: "Other relative",
    7: "Not related",
}


def write_lsms_survey(out: Path, *, households: int, seed: int) -> None:
    """hh_mod_a.dta (households) and hh_mod_b.dta (members) with Stata value labels."""
    source = out / "generated"
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
        variable_value_labels={"hh_b03": {1: "Male", 2: "Female"}, "hh_b04": RELATION},
    )
