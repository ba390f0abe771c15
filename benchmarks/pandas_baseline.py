"""The pipeline slice written as a competent analyst would, in plain pandas (issue #8 baseline).

Same inputs, definitions and outputs as benchmarks/pipeline_slice.py: read the files named in
audit.toml, rename columns per its mapping, recode booleans and value labels, drop rows that
break simple validity checks, derive member features, the regional poverty status and
quintiles, then the programme's targeting rates overall and by group, coverage and adequacy by
domain and beneficiary/benefit incidence by group, each with a design-based SE.

statsmodels has no survey (strata/PSU) estimator: ``DescrStatsW`` gives weighted means with
i.i.d. standard errors, which is not the same work. So the SEs are Taylor linearisation by hand
(first-stage with-replacement, PSUs nested in strata): PSU totals of the linearised variable
z = (y − R·x) / X, zero outside the domain, and Var = Σ_h n_h · s²_h(z). A stratum with a
single PSU adds nothing (the pipeline centres it on the grand mean; no stratum of the cached
surveys has one PSU). Vectorised pandas throughout; no polars or DuckDB.

Usage (from the repository root):
    .venv/bin/python -m benchmarks.pandas_baseline --scale 1m
    .venv/bin/python -m benchmarks.pandas_baseline --scale 1m --households 100000
"""

from __future__ import annotations

import argparse
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from benchmarks.slice_common import (
    KEY_RATES,
    SCALES,
    peak_rss_mib,
    result_path,
    survey_dir,
    write_result,
)

NAME = "pandas_baseline"
CHILD_MAX_AGE = 14
ELDERLY_MIN_AGE = 65
BOTTOM_SHARE = 0.40
PSU_SEPARATOR = "\u241f"  # as the pipeline: PSU ids made unique within strata
MATCHING_GROUPS = ["quintile", "region", "urban"]
TARGETING_RATIOS = {
    "poverty_rate": ("poor", "one"),
    "coverage": ("selected", "one"),
    "exclusion_error": ("poor_excluded", "poor"),
    "inclusion_error": ("nonpoor_selected", "selected"),
    "inclusion_rate_nonpoor": ("nonpoor_selected", "nonpoor"),
    "coverage_poor": ("poor_selected", "poor"),
    "cgh_share": ("benefit_bottom40", "benefit_pc"),
}
TARGETING_RATES = [
    "poverty_rate",
    "coverage",
    "exclusion_error",
    "inclusion_error",
    "inclusion_rate_nonpoor",
    "targeting_differential",
    "cgh",
]


@contextmanager
def timed(stages: dict[str, float], name: str) -> Iterator[None]:
    """Record the wall seconds of a block under ``name``."""
    started = time.perf_counter()
    yield
    stages[name] = round(time.perf_counter() - started, 3)


# ---------------------------------------------------------------- ingest


def read_mapped(survey: Path, spec: dict[str, Any]) -> pd.DataFrame:
    """Read one input file and rename its raw columns to the canonical names of audit.toml."""
    mapping = dict(spec["columns"])
    mapping |= {name: proxy["column"] for name, proxy in spec.get("proxies", {}).items()}
    raw = pd.read_parquet(survey / spec["path"], columns=list(mapping.values()))
    return raw.rename(columns={column: name for name, column in mapping.items()})


def recode(frame: pd.DataFrame, spec: dict[str, Any]) -> dict[str, pd.Series]:
    """Map boolean codes and value labels in place; return masks of unrecognised codes."""
    problems = {}
    for column, coding in spec.get("booleans", {}).items():
        codes = dict.fromkeys(coding["true"], True) | dict.fromkeys(coding["false"], False)
        recoded = frame[column].map(codes)
        problems[f"{column}: not a configured code"] = recoded.isna() & frame[column].notna()
        frame[column] = recoded
    for column, labels in spec.get("value_labels", {}).items():
        labelled = frame[column].map({int(code): label for code, label in labels.items()})
        unlabelled = labelled.isna() & frame[column].notna()  # unlabelled codes stay as text
        labelled[unlabelled] = frame.loc[unlabelled, column].astype(str)
        frame[column] = labelled
    return problems


def drop_invalid(
    frame: pd.DataFrame, problems: dict[str, pd.Series], role: str, log: dict[str, Any]
) -> pd.DataFrame:
    """Drop rows with any problem; log rows read, loaded and rows per problem."""
    bad = np.logical_or.reduce([mask.to_numpy() for mask in problems.values()])
    log[role] = {
        "read": len(frame),
        "loaded": int((~bad).sum()),
        "problems": {name: int(mask.sum()) for name, mask in problems.items() if mask.any()},
    }
    return frame[~bad].reset_index(drop=True)


def not_in_range(
    values: pd.Series,
    low: float | None = None,
    high: float | None = None,
    *,
    required: bool = False,
    above: bool = False,
    whole: bool = False,
) -> pd.Series:
    """True where a value is present but not finite, not whole, or outside [low, high]."""
    number = pd.to_numeric(values, errors="coerce").astype(float)
    bad = values.notna() & ~np.isfinite(number)
    if whole:
        bad |= number != number.round()
    if low is not None:
        bad |= number <= low if above else number < low
    if high is not None:
        bad |= number > high
    return bad | values.isna() if required else bad


def ingest_regions(survey: Path, spec: dict[str, Any], log: dict[str, Any]) -> pd.DataFrame:
    """Regions: positive lines and price indices, unique region codes."""
    regions = read_mapped(survey, spec)
    problems = {
        "region: missing or duplicated": regions["region"].isna()
        | regions["region"].duplicated(keep=False),
        "poverty_line: not > 0": not_in_range(
            regions["poverty_line"], 0, required=True, above=True
        ),
        "price_index: not > 0": not_in_range(regions["price_index"], 0, required=True, above=True),
        "benefit_standard: < 0": not_in_range(regions["benefit_standard"], 0),
        "population: not > 0": not_in_range(regions["population"], 0, above=True),
    }
    return drop_invalid(regions, problems, "regions", log)


def ingest_households(
    survey: Path, spec: dict[str, Any], regions: pd.DataFrame, log: dict[str, Any]
) -> pd.DataFrame:
    """Households: required ids and design, valid codes and ranges, unique hh_id, known region."""
    hh = read_mapped(survey, spec)
    problems = recode(hh, spec)
    problems |= {
        "ids or design: missing": hh[["hh_id", "region", "strata", "psu"]].isna().any(axis=1),
        "receives_benefit: missing": hh["receives_benefit"].isna(),
        "weight: not > 0": not_in_range(hh["weight"], 0, required=True, above=True),
        "hh_size: not 1-100": not_in_range(hh["hh_size"], 1, 100, required=True, whole=True),
        "welfare: not >= 0": not_in_range(hh["welfare"], 0, required=True),
        "benefit_amount: not >= 0": not_in_range(hh["benefit_amount"], 0),
        "hh_id: duplicated": hh["hh_id"].duplicated(keep=False),
        "region: not in the regions file": ~hh["region"].isin(regions["region"]),
    }
    for name, proxy in spec.get("proxies", {}).items():
        if proxy["kind"] == "numeric":
            problems[f"{name}: not a number"] = not_in_range(hh[name])
            hh[name] = hh[name].astype(float)
    hh = drop_invalid(hh, problems, "households", log)
    return hh.astype({"receives_benefit": bool, "urban": "boolean"})


def ingest_members(
    survey: Path, spec: dict[str, Any], households: pd.DataFrame, log: dict[str, Any]
) -> pd.DataFrame:
    """Members: known household, unique person within it, age 0-120, education 0-30 years."""
    members = read_mapped(survey, spec)
    problems = recode(members, spec)
    problems |= {
        "ids: missing": members[["hh_id", "person_id"]].isna().any(axis=1),
        "age: not 0-120": not_in_range(members["age"], 0, 120, required=True, whole=True),
        "education_years: not 0-30": not_in_range(members["education_years"], 0, 30),
        "hh_id: household not loaded": ~members["hh_id"].isin(households["hh_id"]),
        "person_id: duplicated in household": members.duplicated(
            ["hh_id", "person_id"], keep=False
        ),
    }
    return drop_invalid(members, problems, "members", log)


def ingest_projection(survey: Path, spec: dict[str, Any], log: dict[str, Any]) -> pd.DataFrame:
    """Projection: year 1900-2200, population >= 0, unique year x age group x region."""
    projection = read_mapped(survey, spec)
    problems = {
        "keys: missing or duplicated": projection[["year", "age_group"]].isna().any(axis=1)
        | projection.duplicated(["year", "age_group", "region"], keep=False),
        "year: not 1900-2200": not_in_range(
            projection["year"], 1900, 2200, required=True, whole=True
        ),
        "population: not >= 0": not_in_range(projection["population"], 0, required=True),
    }
    return drop_invalid(projection, problems, "projection", log)


# ---------------------------------------------------------------- analysis frame


def member_features(members: pd.DataFrame) -> pd.DataFrame:
    """One row per hh_id: member counts, dependency ratio, and the head's age, sex, education."""
    flags = members[["is_head", "disabled", "employed"]].fillna(False).astype(bool)
    age = members["age"]
    counts = pd.DataFrame(
        {
            "hh_id": members["hh_id"],
            "n_children": age <= CHILD_MAX_AGE,
            "n_elderly": age >= ELDERLY_MIN_AGE,
            "n_working_age": age.between(CHILD_MAX_AGE + 1, ELDERLY_MIN_AGE - 1),
            "n_disabled": flags["disabled"],
            "n_employed": flags["employed"],
            "n_heads": flags["is_head"],
        }
    )
    grouped = counts.groupby("hh_id", sort=False)
    features = grouped.sum().join(grouped.size().rename("n_members"))
    # the flagged head, else the oldest member
    heads = (
        members.assign(is_head=flags["is_head"])
        .sort_values(["is_head", "age"], ascending=False, kind="stable")
        .drop_duplicates("hh_id")
        .set_index("hh_id")[["age", "sex", "education_years"]]
        .rename(columns=lambda c: f"head_{c}")
    )
    features = features.join(heads)
    features["dependency_ratio"] = (features["n_children"] + features["n_elderly"]) / features[
        "n_working_age"
    ].clip(lower=1)
    features["share_disabled"] = features["n_disabled"] / features["n_members"]
    return features.reset_index()


def analysis_frame(
    hh: pd.DataFrame, features: pd.DataFrame, regions: pd.DataFrame, config: dict[str, Any]
) -> pd.DataFrame:
    """Households with member features, design, welfare, poverty status and quintiles."""
    hh = hh.merge(features, on="hh_id", how="left")
    hh["has_elderly"] = hh["n_elderly"].fillna(0) > 0
    hh["has_disabled"] = hh["n_disabled"].fillna(0) > 0
    hh["hh_size_matches_members"] = hh["n_members"] == hh["hh_size"]
    hh["psu"] = hh["strata"] + PSU_SEPARATOR + hh["psu"]

    welfare, programme = config["welfare"], config["programme"]
    if welfare.get("basis", "per_capita") != "per_capita":
        raise NotImplementedError("this baseline implements per-capita welfare only")
    per_year = 12.0 if programme.get("benefit_period") == "monthly" else 1.0
    hh["benefit"] = hh["benefit_amount"].fillna(0.0) * per_year
    benefit_per_person = hh["benefit"] / hh["hh_size"]
    if welfare.get("includes_benefit", True):
        hh["welfare_post"] = hh["welfare"]
        hh["welfare_pre"] = (hh["welfare"] - benefit_per_person).clip(lower=0.0)
    else:
        hh["welfare_pre"] = hh["welfare"]
        hh["welfare_post"] = hh["welfare"] + benefit_per_person
    hh["person_weight"] = hh["weight"] * hh["hh_size"]

    line = config["poverty_line"]
    if line["method"] == "regional":
        hh["poverty_line"] = hh["region"].map(regions.set_index("region")["poverty_line"])
    elif line["method"] == "national_price_index":
        index = regions.set_index("region")["price_index"]
        hh["poverty_line"] = hh["region"].map(index) * line["national_line"]
    elif line["method"] == "national":
        hh["poverty_line"] = line["national_line"]
    else:
        raise NotImplementedError(f"poverty line method {line['method']!r}")
    hh["is_poor"] = hh["welfare_pre"] < hh["poverty_line"]

    # quintiles of persons by pre-transfer welfare, each household at its midpoint
    ordered = hh["person_weight"].loc[hh["welfare_pre"].sort_values(kind="stable").index]
    share = (ordered.cumsum() - ordered / 2) / ordered.sum()
    hh["quintile"] = (np.floor(share * 5).clip(0, 4) + 1).astype("int8")
    hh["in_bottom_40"] = share < BOTTOM_SHARE
    return hh


# ---------------------------------------------------------------- survey estimation


def domain_labels(frame: pd.DataFrame, group: str) -> pd.Series:
    """Domain of each row as text ('all' overall; booleans 'true'/'false', as the pipeline)."""
    if group == "all":
        return pd.Series("all", index=frame.index, name="group_value")
    values = frame[group]
    if values.dtype == bool or str(values.dtype) == "boolean":
        values = values.map({True: "true", False: "false"})
    return values.astype(str).rename("group_value")


def psu_totals(
    frame: pd.DataFrame, variables: list[str], *, weight: str, group: str
) -> pd.DataFrame:
    """Σw·y per PSU (rows: strata, psu) and domain (columns: variable, domain), 0 if absent."""
    weighted = frame[variables].mul(frame[weight], axis=0)
    keys = [frame["strata"], frame["psu"], domain_labels(frame, group)]
    return weighted.groupby(keys, sort=False).sum().unstack("group_value", fill_value=0.0)


def stratified_variance(z: pd.DataFrame) -> pd.Series:
    """Σ_h n_h/(n_h−1)·Σ_i (z_hi − z̄_h)² per column, from PSU totals z indexed by strata."""
    by_stratum = z.groupby(level="strata", sort=False)
    n_h = by_stratum.size()
    spread = by_stratum.var(ddof=1).mul(n_h, axis=0)
    return spread[n_h > 1].sum(skipna=False)  # a single-PSU stratum adds nothing


def ratio_estimates(
    frame: pd.DataFrame,
    ratios: dict[str, tuple[str, str]],
    *,
    weight: str,
    group: str,
    differences: dict[str, tuple[str, str]] | None = None,
) -> pd.DataFrame:
    """Domain ratios Σw·y / Σw·x with linearised SEs: one row per domain x statistic."""
    variables = sorted({column for pair in ratios.values() for column in pair})
    totals = psu_totals(frame, variables, weight=weight, group=group)
    sums = totals.sum()
    estimates, z = {}, {}
    for name, (numerator, denominator) in ratios.items():
        x_total = sums[denominator]
        estimates[name] = (sums[numerator] / x_total).where(x_total != 0)
        z[name] = (totals[numerator] - totals[denominator] * estimates[name]) / x_total
    for name, (first, second) in (differences or {}).items():
        estimates[name] = estimates[first] - estimates[second]
        z[name] = z[first] - z[second]
    rows = []
    for name, estimate in estimates.items():
        se = np.sqrt(stratified_variance(z[name])).where(estimate.notna())
        rows.append(pd.DataFrame({"statistic": name, "estimate": estimate, "se": se}))
    long = pd.concat(rows).rename_axis("group_value").reset_index()
    long["group_type"] = group
    long["n_obs"] = long["group_value"].map(domain_labels(frame, group).value_counts())
    first_denominator = next(iter(ratios.values()))[1]
    long["population"] = long["group_value"].map(sums[first_denominator])
    return long


def with_intervals(long: pd.DataFrame, degrees: int) -> pd.DataFrame:
    """Student-t 95 % limits with the design's degrees of freedom (PSUs − strata)."""
    margin = stats.t.ppf(0.975, degrees) * long["se"]
    return long.assign(ci_low=long["estimate"] - margin, ci_high=long["estimate"] + margin)


def design_degrees(frame: pd.DataFrame) -> int:
    """Degrees of freedom of the design: number of PSUs minus number of strata."""
    return frame["psu"].nunique() - frame["strata"].nunique()


def programme_targeting(frame: pd.DataFrame, config: dict[str, Any]) -> pd.DataFrame:
    """Targeting rates of the actual programme, overall and by each configured group."""
    weight = "person_weight" if config["targeting"]["unit"] == "persons" else "weight"
    poor = frame["is_poor"].astype(float)
    chosen = frame["receives_benefit"].astype(float)
    benefit = frame["benefit"] / frame["hh_size"] if weight == "person_weight" else frame["benefit"]
    data = pd.DataFrame(
        {
            "strata": frame["strata"],
            "psu": frame["psu"],
            weight: frame[weight],
            "one": 1.0,
            "poor": poor,
            "selected": chosen,
            "poor_excluded": poor * (1 - chosen),
            "nonpoor_selected": (1 - poor) * chosen,
            "nonpoor": 1 - poor,
            "poor_selected": poor * chosen,
            "benefit_pc": benefit,
            "benefit_bottom40": benefit * frame["in_bottom_40"],
        }
    )
    groups = [g for g in config["targeting"]["groups"] if g in frame.columns]
    data = data.join(frame[groups])
    long = pd.concat(
        ratio_estimates(
            data,
            TARGETING_RATIOS,
            weight=weight,
            group=group,
            differences={"targeting_differential": ("coverage_poor", "inclusion_rate_nonpoor")},
        )
        for group in ["all", *groups]
    )
    cgh = long["statistic"] == "cgh_share"
    long.loc[cgh, ["estimate", "se"]] /= BOTTOM_SHARE
    long.loc[cgh, "statistic"] = "cgh"
    long = with_intervals(long[long["statistic"].isin(TARGETING_RATES)], design_degrees(frame))
    keys = ["group_type", "group_value", "n_obs", "population"]
    wide = long.pivot(
        index=keys, columns="statistic", values=["estimate", "se", "ci_low", "ci_high"]
    )
    wide.columns = [rate if part == "estimate" else f"{rate}_{part}" for part, rate in wide.columns]
    wide = wide.reset_index()
    small = wide["n_obs"] < config.get("disclosure", {}).get("min_cell_n", 10)
    values = [column for column in wide.columns if column not in keys]
    wide.loc[small, [*values, "population"]] = np.nan
    wide["suppressed"] = small
    return wide


def incidence_shares(
    frame: pd.DataFrame, column: str, *, weight: str, group: str, name: str
) -> pd.DataFrame:
    """Each group's share of the population total Σw·y, with linearised SEs."""
    cells = psu_totals(frame, [column], weight=weight, group=group)[column]
    psu_total = cells.sum(axis=1)
    grand_total = psu_total.sum()
    share = cells.sum() / grand_total
    z = (cells - np.outer(psu_total, share)) / grand_total
    nonzero = (frame[column] != 0).groupby(domain_labels(frame, group)).sum()
    return pd.DataFrame(
        {
            "group_type": group,
            "indicator": name,
            "value": share,
            "se": np.sqrt(stratified_variance(z)),
            "n_obs": nonzero,
        }
    ).rename_axis("group_value")


def matching(frame: pd.DataFrame, config: dict[str, Any]) -> pd.DataFrame:
    """Coverage and adequacy by domain; beneficiary and benefit incidence by group."""
    unit_weight = "person_weight" if config["targeting"]["unit"] == "persons" else "weight"
    groups = [g for g in MATCHING_GROUPS if g in frame.columns]
    beneficiary = frame["receives_benefit"].astype(float)
    data = frame[["strata", "psu", "weight", "person_weight", *groups]].assign(
        one=1.0,
        beneficiary=beneficiary,
        benefit_b=beneficiary * frame["benefit"],
        welfare_b=beneficiary * frame["hh_size"] * frame["welfare_pre"],
        benefit=frame["benefit"],
    )
    pieces = []
    for group in ["all", *groups]:
        coverage = ratio_estimates(
            data, {"coverage": ("beneficiary", "one")}, weight=unit_weight, group=group
        )
        # money: household amounts under household weights
        adequacy = ratio_estimates(
            data, {"adequacy": ("benefit_b", "welfare_b")}, weight="weight", group=group
        )
        pieces += [coverage, adequacy]
    rates = pd.concat(pieces).rename(columns={"statistic": "indicator", "estimate": "value"})
    shares = [
        incidence_shares(data, column, weight=weight, group=group, name=name).reset_index()
        for group in groups
        for name, column, weight in (
            ("beneficiary_incidence", "beneficiary", unit_weight),
            ("benefit_incidence", "benefit", "weight"),
        )
    ]
    long = pd.concat([rates.drop(columns="population"), *shares], ignore_index=True)
    return with_intervals(long.rename(columns={"value": "estimate"}), design_degrees(frame))


# ---------------------------------------------------------------- run


def numbers(targeting: pd.DataFrame, indicators: pd.DataFrame) -> dict[str, list[float | None]]:
    """Flat ``table|group_type|group_value|statistic`` -> [estimate, se] for the comparison."""
    flat: dict[str, list[float | None]] = {}
    for row in targeting.to_dict("records"):
        for rate in TARGETING_RATES:
            key = f"targeting|{row['group_type']}|{row['group_value']}|{rate}"
            flat[key] = [none_if_nan(row[rate]), none_if_nan(row[f"{rate}_se"])]
    for row in indicators.to_dict("records"):
        key = f"matching|{row['group_type']}|{row['group_value']}|{row['indicator']}"
        flat[key] = [none_if_nan(row["estimate"]), none_if_nan(row["se"])]
    return flat


def none_if_nan(value: float) -> float | None:
    """A float for JSON: None for NaN."""
    return None if pd.isna(value) else float(value)


def run(survey: Path, *, scale: str) -> dict[str, Any]:
    """Run the baseline on a survey folder (audit.toml and its files); return the payload."""
    started = time.perf_counter()
    stages: dict[str, float] = {}
    log: dict[str, Any] = {}
    config = tomllib.loads((survey / "audit.toml").read_text())
    inputs = config["inputs"]
    with timed(stages, "ingest"):
        regions = ingest_regions(survey, inputs["regions"], log)
        households = ingest_households(survey, inputs["households"], regions, log)
        members = ingest_members(survey, inputs["members"], households, log)
        ingest_projection(survey, inputs["projection"], log)
    with timed(stages, "member_features"):
        features = member_features(members)
    del members
    with timed(stages, "analysis_frame"):
        analysis = analysis_frame(households, features, regions, config)
    del households, features
    with timed(stages, "targeting"):
        targeting = programme_targeting(analysis, config)
    with timed(stages, "matching"):
        indicators = matching(analysis, config)
    national = targeting[targeting["group_type"] == "all"].iloc[0]
    return {
        "name": NAME,
        "scale": scale,
        "households": len(analysis),
        "seconds": round(time.perf_counter() - started, 3),
        "stages": stages,
        "peak_rss_mib": peak_rss_mib(),
        "rows": log,
        "key_numbers": {
            rate: {"estimate": float(national[rate]), "se": float(national[f"{rate}_se"])}
            for rate in KEY_RATES
        },
        "numbers": numbers(targeting, indicators),
    }


def main() -> None:
    """Parse arguments, run the baseline, write benchmarks/results/pandas_baseline-<scale>.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=SCALES, default="1m")
    parser.add_argument("--households", type=int, help="develop on a subset of about N households")
    args = parser.parse_args()
    survey = survey_dir(args.scale, args.households)  # a subset is written before timing
    payload = run(survey, scale=args.scale)
    write_result(result_path(NAME, args.scale, args.households), payload)


if __name__ == "__main__":
    main()
