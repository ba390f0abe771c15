"""Tests for transforms.survey: design-based ratios, means and totals with linearised SEs."""

from __future__ import annotations

import gc
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from transforms import survey
from transforms.summation import exact_sums
from transforms.survey import (
    _DOMAIN,
    PSU_CODE,
    STRATUM_CODE,
    Design,
    _Statistic,
    _stratum_sums,
    _weighted_columns,
    _z_cells,
    _z_stratum_sums,
    estimate_means,
    estimate_ratios,
    estimate_totals,
    poststratify,
    with_codes,
)

API_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "reference-data" / "r-survey-api"
R_REFERENCE = Path(__file__).resolve().parent / "data" / "r_survey_reference.csv"

needs_api = pytest.mark.skipif(
    not API_DIR.is_dir(), reason=f"R survey api reference data not found at {API_DIR}"
)


def _api(name: str) -> pl.DataFrame:
    """One of the api CSVs shipped beside the checkout (R `survey`'s data(api))."""
    return pl.read_csv(API_DIR / name, null_values="NA")


def _row(result: pl.DataFrame, group_type: str = "all", group_value: str = "all") -> dict:
    """The single result row of one domain."""
    rows = result.filter(
        (pl.col("group_type") == group_type) & (pl.col("group_value") == group_value)
    )
    assert rows.height == 1
    return rows.row(0, named=True)


# --- Known answers: R `survey` values published in the reference README -------------------------

STRAT = Design(weight="pw", strata="stype")
STRAT_FPC = Design(weight="pw", strata="stype", fpc="fpc")


@needs_api
@pytest.mark.parametrize(
    ("design", "domain", "estimate", "se"),
    [
        (STRAT, None, 662.2874, 9.5361),
        (STRAT_FPC, None, 662.2874, 9.4089),
        (STRAT_FPC, pl.col("emer") > 20, 558.5200, 21.7076),
        (STRAT_FPC, pl.col("emer") == 0, 749.0862, 17.5156),
    ],
    ids=["stratified", "stratified-fpc", "domain-emer-gt-20", "domain-emer-0"],
)
def test_mean_api00_matches_r_survey_readme(
    design: Design, domain: pl.Expr | None, estimate: float, se: float
) -> None:
    """svymean(~api00) on apistrat, overall and svyby domains, to the printed precision."""
    frame = _api("api_strat.csv").with_columns(is_domain=domain if domain is not None else True)
    result = estimate_means(frame, variables=["api00"], design=design, by=["is_domain"])
    row = _row(result, "is_domain", "true") if domain is not None else _row(result)
    assert row["estimate"] == pytest.approx(estimate, rel=1e-6)
    assert row["se"] == pytest.approx(se, abs=5e-5)
    assert row["df"] == 200 - 3


@needs_api
def test_total_enroll_matches_r_survey_readme() -> None:
    """svytotal(~enroll) on apistrat with fpc: 3,687,177.5 (SE 114,641.7)."""
    row = _row(estimate_totals(_api("api_strat.csv"), variables=["enroll"], design=STRAT_FPC))
    assert row["estimate"] == pytest.approx(3_687_177.5, abs=0.05)
    assert row["se"] == pytest.approx(114_641.7, abs=0.05)
    assert row["denominator_total"] == pytest.approx(6194, abs=0.01)  # Σ pw = population size


@needs_api
def test_cluster_mean_matches_r_survey_readme() -> None:
    """svymean(~api00) on apiclus2 with id=~dnum: 670.8118 (SE 30.7116), df = 40 − 1."""
    result = estimate_means(
        _api("api_clus2.csv"), variables=["api00"], design=Design(weight="pw", psu="dnum")
    )
    row = _row(result)
    assert row["estimate"] == pytest.approx(670.8118, rel=1e-6)
    assert row["se"] == pytest.approx(30.7116, abs=5e-5)
    assert (row["df"], row["n_obs"]) == (39, 126)


# --- Cross-check against R values computed for this project -------------------------------------

R_CASES = {
    "strat_clus": ("api_strat.csv", Design("pw", "stype", "dnum", lonely_psu="fail"), "awards"),
    "strat_fpc": ("api_strat.csv", Design("pw", "stype", fpc="fpc"), "awards"),
    "lonely_adjust": ("api_clus2.csv", Design("pw", "cname", "dnum", lonely_psu="adjust"), "stype"),
    "lonely_certainty": (
        "api_clus2.csv",
        Design("pw", "cname", "dnum", lonely_psu="certainty"),
        "stype",
    ),
}
TOTALS = {"strat_clus": "enroll", "strat_fpc": "enroll", "lonely_certainty": "api.stu"}


def _reference(case: str) -> pl.DataFrame:
    """The rows of one case of tests/data/r_survey_reference.csv."""
    reference = pl.read_csv(
        R_REFERENCE, schema_overrides={"group_value": pl.String}, null_values="NA"
    )
    return reference.filter(pl.col("case") == case)


def _all_statistics(case: str) -> pl.DataFrame:
    """Ratio api00/api99, mean api00 and (where R has one) a total, named as in the R script."""
    file, design, by = R_CASES[case]
    return _statistics(_api(file), design, by, TOTALS.get(case))


def _statistics(frame: pl.DataFrame, design: Design, by: str, total: str | None) -> pl.DataFrame:
    """api_growth_ratio, api00_mean and ``<total>_total``, overall and by ``by``, as in R."""
    parts = [
        estimate_ratios(
            frame, ratios={"api_growth_ratio": ("api00", "api99")}, design=design, by=[by]
        ),
        estimate_means(frame, variables=["api00"], design=design, by=[by]).with_columns(
            statistic=pl.lit("api00_mean")
        ),
    ]
    if total is not None:
        totals = estimate_totals(frame, variables=[total], design=design, by=[by])
        parts.append(totals.with_columns(statistic=pl.lit(total.replace(".", "_") + "_total")))
    return pl.concat(parts)


@needs_api
@pytest.mark.parametrize("case", list(R_CASES))
def test_matches_r_survey_cross_check(case: str) -> None:
    """Agree with R 4.2.2 / survey 4.1.1 svyratio, svymean, svytotal and svyby to 1e-9.

    Provenance: tests/data/r_survey_reference.R run on the api CSVs, output saved as
    tests/data/r_survey_reference.csv (12 significant digits). Cases: districts as PSUs
    within school-type strata (domains by `awards` leave many PSUs without a domain
    member); stratified with fpc; county strata with 40 districts in 26 counties, so most
    strata hold a lonely PSU, under survey.lonely.psu = "adjust" and "certainty".
    """
    reference = _reference(case)
    ours = _all_statistics(case)
    joined = reference.join(
        ours, on=["group_type", "group_value", "statistic"], how="left", suffix="_py"
    )
    assert joined.height == reference.height == ours.height
    for row in joined.iter_rows(named=True):
        label = f"{case} {row['group_type']}={row['group_value']} {row['statistic']}"
        assert row["estimate_py"] == pytest.approx(row["estimate"], rel=1e-9), label
        assert row["se_py"] == pytest.approx(row["se"], rel=1e-8), label
        assert row["df_py"] == row["df"], label


def _joined(reference: pl.DataFrame, ours: pl.DataFrame) -> pl.DataFrame:
    """R rows with ours beside them (``*_py``); fails unless both have the same rows."""
    joined = reference.join(
        ours, on=["group_type", "group_value", "statistic"], how="left", suffix="_py"
    )
    assert joined.height == reference.height == ours.height
    assert joined["estimate_py"].null_count() == 0
    return joined


# R survey 4.1.1 on the api CSVs, to the 12 significant digits of r_survey_reference.csv
# (observed: estimates and SEs agree to 5e-12 relative, the rounding of the CSV).
CSV_PRECISION = 1e-11

POPULATION = "api_pop.csv"
POSTSTRATIFIED = {
    # case: (file, design on the post-stratified weight, domain column, total)
    "ps_stype": (
        "api_strat.csv",
        Design("ps_weight", "stype", poststrata="stype", lonely_psu="fail"),
        "awards",
        "enroll",
    ),
    "ps_stype_fpc": (
        "api_strat.csv",
        Design("ps_weight", "stype", fpc="fpc", poststrata="stype", lonely_psu="fail"),
        "awards",
        "enroll",
    ),
    "ps_awards_fpc": (
        "api_strat.csv",
        Design("ps_weight", "stype", fpc="fpc", poststrata="awards", lonely_psu="fail"),
        "sch.wide",
        "enroll",
    ),
    "ps_clus2": (
        "api_clus2.csv",
        Design("ps_weight", psu="dnum", poststrata="stype", lonely_psu="fail"),
        "awards",
        "api.stu",
    ),
    "ps_lonely_adjust": (
        "api_clus2.csv",
        Design("ps_weight", "cname", "dnum", poststrata="stype", lonely_psu="adjust"),
        "awards",
        "api.stu",
    ),
}


def _population_counts(column: str) -> dict[str, int]:
    """Schools per value of ``column`` in the api population (R: table(apipop[[column]]))."""
    return dict(_api(POPULATION).group_by(column).len().iter_rows())


def _poststratified(file: str, column: str) -> pl.DataFrame:
    """An api sample with ``ps_weight``: ``pw`` post-stratified on ``column`` to api_pop counts."""
    totals = _population_counts(column)
    weighted = poststratify(
        _api(file), weight="pw", poststrata=column, totals=totals, name="ps_weight"
    )
    return weighted.collect()


@needs_api
@pytest.mark.parametrize("case", list(POSTSTRATIFIED))
def test_poststratified_matches_r_survey(case: str) -> None:
    """Agree with R postStratify + svyratio, svymean, svytotal and svyby to the CSV's 12 digits.

    R: ``postStratify(design, ~g, data.frame(g = ..., Freq = table(apipop$g)))``. Cases:
    apistrat on its own strata (stype), without and with fpc (pw is rounded, so the weights
    move by ~1e-10 and the SEs equal the plain design's); apistrat with fpc on awards,
    which cuts across strata with weights varying within post-strata; apiclus2 with
    districts as PSUs on stype, which cuts across PSUs; the same with county strata and
    lonely PSUs ("adjust"). Domains are svyby on the post-stratified design.
    """
    file, design, by, total = POSTSTRATIFIED[case]
    assert design.poststrata is not None
    ours = _statistics(_poststratified(file, design.poststrata), design, by, total)
    for row in _joined(_reference(case), ours).iter_rows(named=True):
        label = f"{case} {row['group_type']}={row['group_value']} {row['statistic']}"
        assert row["estimate_py"] == pytest.approx(row["estimate"], rel=CSV_PRECISION), label
        assert row["se_py"] == pytest.approx(row["se"], rel=CSV_PRECISION), label
        assert row["df_py"] == row["df"], label


@needs_api
def test_poststratified_weights_hit_the_population_counts() -> None:
    """Post-stratified on awards, apistrat's weights add up to api_pop's 2027 / 4167 schools.

    The total of each post-stratum's indicator is then known exactly: R's residualisation
    makes its SE 0 (up to rounding), while the unadjusted design gives it an SE of ~140.
    """
    counts = _population_counts("awards")
    frame = _poststratified("api_strat.csv", "awards").with_columns(
        is_award=(pl.col("awards") == "Yes").cast(pl.Float64)
    )
    sums = dict(frame.group_by("awards").agg(pl.col("ps_weight").sum()).iter_rows())
    assert sums == pytest.approx(counts, rel=1e-14)
    assert counts == {"No": 2027, "Yes": 4167}
    design = Design("ps_weight", "stype", fpc="fpc", poststrata="awards")
    row = _row(estimate_totals(frame, variables=["is_award"], design=design))
    assert row["estimate"] == pytest.approx(4167, rel=1e-14)
    assert row["se"] == pytest.approx(0.0, abs=1e-9)
    plain = _row(estimate_totals(frame, variables=["is_award"], design=STRAT_FPC))
    assert plain["se"] > 100.0


CIPROP = {
    # case: (file, post-stratum column or None, design, [(domain column, api00 threshold)])
    "ciprop_strat_fpc": ("api_strat.csv", None, STRAT_FPC, [("awards", 700), ("stype", 880)]),
    "ciprop_clus2": ("api_clus2.csv", None, Design("pw", psu="dnum"), [("stype", 700)]),
    "ciprop_ps_clus2": (
        "api_clus2.csv",
        "stype",
        Design("ps_weight", psu="dnum", poststrata="stype"),
        [("awards", 700)],
    ),
}


def _shares(case: str) -> pl.DataFrame:
    """Logit-interval shares ``api00_gt_<t>_share`` overall and by domain, as in the R script."""
    file, column, design, requests = CIPROP[case]
    frame = _api(file) if column is None else _poststratified(file, column)
    parts = []
    for by, threshold in requests:
        name = f"api00_gt_{threshold}_share"
        flagged = frame.with_columns((pl.col("api00") > threshold).cast(pl.Float64).alias(name))
        parts.append(
            estimate_means(flagged, variables=[name], design=design, by=[by], bounded=[name])
        )
    return pl.concat(parts)


# svyciprop fits svyglm(y ~ 1, family = quasibinomial), whose IRLS stops at a relative
# deviance change of 1e-8: its p and limits sit up to 5e-10 from the converged values
# (refitting with glm.control(epsilon = 1e-15) reproduces ours to 1e-15). Its SE is svymean's.
GLM_CONVERGENCE = 1e-9


@needs_api
@pytest.mark.parametrize("case", list(CIPROP))
def test_logit_interval_matches_r_svyciprop(case: str) -> None:
    """Agree with R ``svyciprop(~I(api00 > t), design, method = "logit")`` and its svyby.

    The df is the design's, degf(design), as svyciprop's default; for domains the R script
    passes ``df = degf(design)`` because svyby hands svyciprop the domain's subset, whose
    degf would count only PSUs and strata holding domain members. apistrat's H and M
    schools have no api00 above 880 (p = 0): R's glm stops at p = 2.9e-12 with the point
    interval [2.9e-12, 2.9e-12]; ours is exactly [0, 0].
    """
    joined = _joined(_reference(case), _shares(case))
    for row in joined.iter_rows(named=True):
        label = f"{case} {row['group_type']}={row['group_value']} {row['statistic']}"
        for column in ("estimate", "ci_low", "ci_high"):
            assert row[f"{column}_py"] == pytest.approx(row[column], abs=GLM_CONVERGENCE), label
        assert row["se_py"] == pytest.approx(row["se"], rel=CSV_PRECISION, abs=1e-15), label
        assert row["df_py"] == row["df"], label
        assert 0.0 <= row["ci_low_py"] <= row["estimate_py"] <= row["ci_high_py"] <= 1.0, label
    boundary = joined.filter(pl.col("estimate") < 1e-9)
    assert boundary.height == (2 if case == "ciprop_strat_fpc" else 0)
    exact = boundary.select("estimate_py", "se_py", "ci_low_py", "ci_high_py").rows()
    assert exact == [(0.0, 0.0, 0.0, 0.0)] * boundary.height


@needs_api
def test_domain_on_full_design_differs_from_naive_subsetting() -> None:
    """Subsetting to the domain shrinks n_h (and the fpc factor) and gets the SE wrong.

    Stratified element sample with fpc, domain emer > 20 (36 of 200 schools): on the full
    design every school counts in n_h with z = 0 outside the domain, which reproduces R's
    published SE 21.7076. Estimating on the 36-school subset keeps the mean but gives an SE
    of about 22.30, 2.7 % too large, and only 36 − 3 degrees of freedom.
    """
    frame = _api("api_strat.csv").with_columns(is_high_emer=pl.col("emer") > 20)
    full = estimate_means(frame, variables=["api00"], design=STRAT_FPC, by=["is_high_emer"])
    subset = frame.filter(pl.col("is_high_emer"))
    naive = _row(estimate_means(subset, variables=["api00"], design=STRAT_FPC))
    domain = _row(full, "is_high_emer", "true")
    assert domain["se"] == pytest.approx(21.7076, abs=5e-5)
    assert naive["estimate"] == pytest.approx(domain["estimate"], rel=1e-12)
    assert naive["se"] == pytest.approx(22.2968, abs=5e-5)
    assert (domain["df"], naive["df"]) == (197, 33)


# --- Hand-computed tiny cases -------------------------------------------------------------------

TINY = pl.DataFrame(
    {
        "stratum": ["A", "A", "A", "B", "B", "B"],
        "psu": [1, 1, 2, 3, 4, 4],
        "weight": [1.0, 1.0, 2.0, 1.0, 2.0, 1.0],
        "y": [2.0, 4.0, 1.0, 3.0, 5.0, 0.0],
        "is_member": [True, False, True, False, True, False],
    }
)
TINY_DESIGN = Design(weight="weight", strata="stratum", psu="psu")


def test_tiny_mean_by_hand() -> None:
    """Overall weighted mean, SE, t interval, n_obs and Σw worked out by hand.

    Σw = 8, Σw·y = 21, R = 2.625. PSU totals of w·(y − R)/Σw:
      PSU1 (rows 1,2): (−0.625 + 1.375)/8 = 0.09375    PSU2: 2·(−1.625)/8 = −0.40625
      PSU3:            0.375/8          = 0.046875     PSU4: (4.75 − 2.625)/8 = 0.265625
    Stratum A: mean −0.15625, deviations ±0.25,     2/(2−1)·0.125          = 0.25
    Stratum B: mean  0.15625, deviations ±0.109375, 2/(2−1)·0.02392578125  = 0.0478515625
    Var = 0.2978515625; df = 4 PSUs − 2 strata = 2.
    """
    row = _row(estimate_means(TINY, variables=["y"], design=TINY_DESIGN))
    se = math.sqrt(0.2978515625)
    assert row["estimate"] == pytest.approx(2.625, rel=1e-12)
    assert row["se"] == pytest.approx(se, rel=1e-12)
    assert (row["n_obs"], row["denominator_total"], row["df"]) == (6, 8.0, 2)
    half_width = stats.t.ppf(0.975, 2) * se  # 4.302653 · se
    assert row["ci_low"] == pytest.approx(2.625 - half_width, rel=1e-12)
    assert row["ci_high"] == pytest.approx(2.625 + half_width, rel=1e-12)


def test_tiny_domain_mean_by_hand() -> None:
    """Domain mean (rows 1, 3, 5) on the full design; PSU3 has no member and counts as 0.

    Σw = 5, Σw·y = 14, R = 2.8. PSU totals of w·(y − R)/5 inside the domain:
      PSU1: −0.8/5 = −0.16   PSU2: 2·(−1.8)/5 = −0.72   PSU3: 0   PSU4: 2·2.2/5 = 0.88
    Stratum A: mean −0.44, deviations ±0.28, 2·0.1568 = 0.3136
    Stratum B: mean  0.44, deviations ±0.44, 2·0.3872 = 0.7744
    Var = 1.088.
    """
    result = estimate_means(TINY, variables=["y"], design=TINY_DESIGN, by=["is_member"])
    row = _row(result, "is_member", "true")
    assert row["estimate"] == pytest.approx(2.8, rel=1e-12)
    assert row["se"] == pytest.approx(math.sqrt(1.088), rel=1e-12)
    assert (row["n_obs"], row["denominator_total"], row["df"]) == (3, 5.0, 2)
    assert result["group_value"].to_list() == ["all", "false", "true"]


LONELY = pl.DataFrame(
    {"stratum": ["A", "A", "B"], "psu": [1, 2, 3], "weight": [1.0, 1.0, 1.0], "y": [1, 3, 5]}
)


@pytest.mark.parametrize(
    ("lonely_psu", "variance"),
    [
        # A: z = 1, 3 -> 2/(2−1)·((1−2)² + (3−2)²) = 4.  B alone: z = 5.
        # adjust: centre B at the grand mean of PSU totals 9/3 = 3 -> (5 − 3)² = 4.
        # (R survey ≤ 4.1 centres totals at 0 instead: 25; newer versions use the grand mean.)
        ("adjust", 8.0),
        ("certainty", 4.0),  # B contributes nothing
    ],
)
def test_lonely_psu_total_by_hand(lonely_psu: str, variance: float) -> None:
    """Total 1 + 3 + 5 = 9 with a lonely PSU in stratum B; df = 3 PSUs − 2 strata."""
    design = Design("weight", "stratum", "psu", lonely_psu=lonely_psu)  # type: ignore[arg-type]
    row = _row(estimate_totals(LONELY, variables=["y"], design=design))
    assert row["estimate"] == 9.0
    assert row["se"] == pytest.approx(math.sqrt(variance), rel=1e-12)
    assert row["df"] == 1


def test_lonely_adjust_counts_lonely_stratum_without_domain_members() -> None:
    """Domain = PSU1 only: z = (1, 0, 0); grand mean 1/3.

    A: 2·((1 − 0.5)² + (0 − 0.5)²) = 1;  B (no member, z = 0): (0 − 1/3)² = 1/9.  Var = 10/9.
    """
    frame = LONELY.with_columns(is_member=pl.col("psu") == 1)
    result = estimate_totals(
        frame, variables=["y"], design=Design("weight", "stratum", "psu"), by=["is_member"]
    )
    row = _row(result, "is_member", "true")
    assert row["estimate"] == 1.0
    assert row["se"] == pytest.approx(math.sqrt(10 / 9), rel=1e-12)


def test_lonely_psu_fail_names_the_stratum() -> None:
    """lonely_psu='fail' refuses a stratum with a single PSU and says which one."""
    with pytest.raises(ValueError, match="'B'"):
        estimate_totals(
            LONELY, variables=["y"], design=Design("weight", "stratum", "psu", lonely_psu="fail")
        )


def test_fpc_scales_variance_and_census_stratum_adds_nothing() -> None:
    """fpc: stratum A sampled 2 of 4 PSUs (factor 1 − 2/4); B is a census of 1 PSU (factor 0).

    Var = 0.5 · 4 = 2 (A as in the lonely case); B is self-representing, not lonely, so
    lonely_psu='fail' does not fire.
    """
    frame = LONELY.with_columns(population_psus=pl.Series([4, 4, 1]))
    design = Design("weight", "stratum", "psu", fpc="population_psus", lonely_psu="fail")
    row = _row(estimate_totals(frame, variables=["y"], design=design))
    assert row["se"] == pytest.approx(math.sqrt(2.0), rel=1e-12)


def test_zero_denominator_domain_gives_null_not_nan() -> None:
    """A domain whose denominator total is 0 has null estimate, SE and interval."""
    frame = TINY.with_columns(x=pl.when(pl.col("is_member")).then(0.0).otherwise(1.0))
    result = estimate_ratios(frame, ratios={"r": ("y", "x")}, design=TINY_DESIGN, by=["is_member"])
    empty = _row(result, "is_member", "true")
    assert (empty["estimate"], empty["se"], empty["ci_low"], empty["ci_high"]) == (None,) * 4
    assert (empty["denominator_total"], empty["n_obs"]) == (0.0, 3)
    assert _row(result, "is_member", "false")["estimate"] == pytest.approx(7 / 3, rel=1e-12)


@pytest.mark.parametrize("bad", [None, float("nan")])
def test_missing_numerator_is_an_error(bad: float | None) -> None:
    """Null or NaN in a statistic column must be cleaned by the caller first."""
    frame = TINY.with_columns(y=pl.Series([2.0, bad, 1.0, 3.0, 5.0, 0.0]))
    with pytest.raises(ValueError, match=r"missing values .*'y': 1"):
        estimate_means(frame, variables=["y"], design=TINY_DESIGN)


def test_fpc_varying_within_stratum_is_an_error() -> None:
    """The fpc is one population count per stratum."""
    frame = LONELY.with_columns(population_psus=pl.Series([4, 5, 1]))
    with pytest.raises(ValueError, match="varies within strata"):
        estimate_totals(
            frame, variables=["y"], design=Design("weight", "stratum", "psu", "population_psus")
        )


def test_unknown_lonely_psu_rule_is_an_error() -> None:
    """A typo in lonely_psu fails when the design is built, not deep in estimation."""
    with pytest.raises(ValueError, match="lonely_psu"):
        Design("weight", lonely_psu="remove")  # type: ignore[arg-type]


def test_no_psu_means_each_row_is_its_own_psu_and_lazy_input_is_accepted() -> None:
    """Design without psu equals an explicit row-id PSU; a LazyFrame gives the same result."""
    implicit = estimate_means(TINY.lazy(), variables=["y"], design=Design("weight", "stratum"))
    explicit = estimate_means(
        TINY.with_row_index("row"), variables=["y"], design=Design("weight", "stratum", "row")
    )
    assert implicit.equals(explicit)
    assert implicit["df"].to_list() == [6 - 2]


def test_null_domain_value_is_its_own_domain() -> None:
    """Rows with a null `by` value form a domain reported with a null group_value."""
    frame = TINY.with_columns(region=pl.Series(["a", None, "a", None, "b", "b"]))
    with_null = estimate_means(frame, variables=["y"], design=TINY_DESIGN, by=["region"])
    filled = frame.with_columns(pl.col("region").fill_null("missing"))
    expected = estimate_means(filled, variables=["y"], design=TINY_DESIGN, by=["region"])
    assert with_null["group_value"].to_list() == ["all", "a", "b", None]
    assert with_null["se"].to_list() == pytest.approx(expected["se"].to_list(), rel=1e-12)
    assert with_null.filter(pl.col("group_value").is_null())["n_obs"].to_list() == [2]


# --- Post-stratification and logit intervals by hand --------------------------------------------

TINY_POST = TINY.with_columns(
    band=pl.Series(["g1", "g2", "g1", "g2", "g1", "g2"]),
    flag=pl.Series([1.0, 0.0, 1.0, 0.0, 1.0, 0.0]),
)


def test_poststratify_scales_each_band_to_its_total() -> None:
    """Σw is 5 in g1 and 3 in g2: totals 10 and 9 scale them by 2 and 3."""
    result = poststratify(TINY_POST, weight="weight", poststrata="band", totals={"g1": 10, "g2": 9})
    assert isinstance(result, pl.LazyFrame)
    assert result.collect()["weight"].to_list() == [2.0, 3.0, 4.0, 3.0, 4.0, 3.0]
    named = poststratify(
        TINY_POST.lazy(),
        weight="weight",
        poststrata="band",
        totals={"g1": 5, "g2": 3, "g3": 0},
        name="ps_weight",
    ).collect()
    assert named["ps_weight"].to_list() == named["weight"].to_list()  # already calibrated


@pytest.mark.parametrize(
    ("totals", "message"),
    [
        ({"g1": 10}, r"in the data have no population total: \['g2'\]"),
        ({"g1": 10, "g2": 0}, r"no population total: \['g2'\]"),
        ({"g1": 10, "g2": 9, "g3": 4}, r"have no sample weight .*\['g3'\]"),
        ({"g1": 10, "g2": -1}, "finite and non-negative"),
        ({"g1": 10, "g2": float("nan")}, "finite and non-negative"),
    ],
    ids=["missing-total", "zero-total", "empty-band", "negative", "nan"],
)
def test_poststratify_rejects_totals_that_do_not_match(totals: dict, message: str) -> None:
    """Every band in the data needs a positive total and every positive total a band."""
    with pytest.raises(ValueError, match=message):
        poststratify(TINY_POST, weight="weight", poststrata="band", totals=totals)


def test_poststratify_rejects_null_band() -> None:
    """A null post-stratum cannot be scaled to any total (R: na.fail)."""
    frame = TINY_POST.with_columns(band=pl.Series(["g1", None, "g1", "g2", "g1", "g2"]))
    with pytest.raises(ValueError, match="null values in post-stratum column 'band'"):
        poststratify(frame, weight="weight", poststrata="band", totals={"g1": 10, "g2": 9})


POST_DESIGN = Design(weight="weight", strata="stratum", psu="psu", poststrata="band")


def test_missing_poststratum_is_an_error_in_estimation() -> None:
    """The post-stratum column is a design column: nulls stop the estimation."""
    frame = TINY_POST.with_columns(band=pl.Series(["g1", None, "g1", "g2", "g1", "g2"]))
    with pytest.raises(ValueError, match=r"missing values .*'band': 1"):
        estimate_totals(frame, variables=["y"], design=POST_DESIGN)


def test_poststratified_total_by_hand() -> None:
    """Total of y with u = w·y replaced by u − w·m_g, m_g = Σ_g u / Σ_g w.

    u = (2, 4, 2, 3, 10, 0); g1 = rows 1, 3, 5 (Σw 5), g2 = rows 2, 4, 6 (Σw 3):
    m_g1 = 14/5, m_g2 = 7/3. Residuals −0.8, 5/3, −3.6, 2/3, 4.4, −7/3 (they add up to 0).
    PSU totals 13/15, −54/15 (A) and 10/15, 31/15 (B); with two PSUs a stratum adds the
    squared difference: (67² + 21²)/15² = 4930/225 ≈ 21.9. Without post-strata the PSU
    totals of u are 6, 2 (A) and 3, 10 (B): Var = 4² + 7² = 65.
    """
    row = _row(estimate_totals(TINY_POST, variables=["y"], design=POST_DESIGN))
    assert row["estimate"] == pytest.approx(21.0, rel=1e-12)
    assert row["se"] == pytest.approx(math.sqrt(4930 / 225), rel=1e-12)
    plain = _row(estimate_totals(TINY_POST, variables=["y"], design=TINY_DESIGN))
    assert plain["se"] == pytest.approx(math.sqrt(65), rel=1e-12)


def test_poststratified_domain_total_by_hand() -> None:
    """Domain rows 1 and 5 (both g1): u = (2, 0, 0, 0, 10, 0), m_g1 = 12/5, m_g2 = 0.

    Row 3 (g1, w = 2) is outside the domain but its residual is −2·12/5 = −4.8: PSU2 has no
    member yet a non-zero total. PSU totals −0.4, −4.8 (A) and 0, 5.2 (B):
    Var = 4.4² + 5.2² = 46.4.
    """
    frame = TINY_POST.with_columns(is_member=pl.Series([True, False, False, False, True, False]))
    result = estimate_totals(frame, variables=["y"], design=POST_DESIGN, by=["is_member"])
    row = _row(result, "is_member", "true")
    assert row["estimate"] == pytest.approx(12.0, rel=1e-12)
    assert row["se"] == pytest.approx(math.sqrt(46.4), rel=1e-12)
    assert row["n_obs"] == 2


def test_logit_interval_by_hand_and_others_stay_wald() -> None:
    """p = 5/8 with the linearised SE; limits expit(logit p ± t₂·SE/(p(1 − p))).

    The SE is that of the plain mean; y, not named in ``bounded``, keeps p ± t·SE.
    """
    bounded = estimate_means(
        TINY_POST, variables=["flag", "y"], design=TINY_DESIGN, bounded=["flag"]
    )
    wald = estimate_means(TINY_POST, variables=["flag", "y"], design=TINY_DESIGN)
    share, plain = (
        _row(bounded.filter(pl.col("statistic") == "flag")),
        _row(wald.filter(pl.col("statistic") == "flag")),
    )
    assert share["estimate"] == pytest.approx(0.625, rel=1e-12)
    assert share["se"] == plain["se"]
    half = stats.t.ppf(0.975, 2) * share["se"] / (0.625 * 0.375)
    logit = math.log(0.625 / 0.375)
    assert share["ci_low"] == pytest.approx(1 / (1 + math.exp(-(logit - half))), rel=1e-12)
    assert share["ci_high"] == pytest.approx(1 / (1 + math.exp(-(logit + half))), rel=1e-12)
    assert plain["ci_low"] < 0.0 < share["ci_low"]  # the Wald interval leaves [0, 1]
    assert bounded.filter(pl.col("statistic") == "y").equals(
        wald.filter(pl.col("statistic") == "y")
    )


def test_logit_interval_at_zero_and_one_is_the_point() -> None:
    """A domain where every flag is 0 (or 1) has SE 0 and the interval [p, p]."""
    frame = TINY_POST.with_columns(is_flagged=pl.col("flag") == 1.0)
    result = estimate_means(
        frame, variables=["flag"], design=TINY_DESIGN, by=["is_flagged"], bounded=["flag"]
    )
    for value, p in (("false", 0.0), ("true", 1.0)):
        row = _row(result, "is_flagged", value)
        assert (row["estimate"], row["se"], row["ci_low"], row["ci_high"]) == (p, 0.0, p, p)


def test_logit_interval_without_degrees_of_freedom_is_null() -> None:
    """One PSU, one stratum: df = 0 and, as for Wald intervals, no limits."""
    frame = TINY_POST.with_columns(one=pl.lit(1))
    result = estimate_means(
        frame, variables=["flag"], design=Design("weight", psu="one"), bounded=["flag"]
    )
    row = _row(result)
    assert (row["df"], row["ci_low"], row["ci_high"]) == (0, None, None)


@pytest.mark.parametrize(
    ("bounded", "error", "message"),
    [
        (["d"], ValueError, r"bounded names \['d'\], which are not requested ratios or means"),
        (["nope"], ValueError, r"\['nope'\]"),
        ("r", TypeError, "not a string"),
        (["y_per_x"], ValueError, "outside \\[0, 1\\]: not a proportion"),
    ],
    ids=["difference", "unknown", "string", "not-a-proportion"],
)
def test_bounded_must_name_proportions(bounded: object, error: type, message: str) -> None:
    """Logit limits apply to requested ratios or means whose estimates lie in [0, 1]."""
    with pytest.raises(error, match=message):
        estimate_ratios(
            TINY_POST.with_columns(x=pl.lit(1.0)),
            ratios={"r": ("flag", "weight"), "y_per_x": ("y", "x")},
            differences={"d": ("r", "y_per_x")},
            design=TINY_DESIGN,
            bounded=bounded,  # type: ignore[arg-type]
        )


# --- Properties ---------------------------------------------------------------------------------


@st.composite
def survey_frames(draw: st.DrawFn) -> pl.DataFrame:
    """Up to 3 strata × 4 PSUs, positive weights, a 0/1 flag, 3 domains, 2 post-strata."""
    n = draw(st.integers(min_value=3, max_value=40))

    def column(elements: st.SearchStrategy) -> list:
        return draw(st.lists(elements, min_size=n, max_size=n))

    positive = st.floats(min_value=0.1, max_value=100.0, allow_nan=False)
    return pl.DataFrame(
        {
            "stratum": column(st.integers(0, 2)),
            "psu": column(st.integers(0, 3)),
            "weight": column(positive),
            "x": column(positive),
            "y": column(st.floats(min_value=-50.0, max_value=50.0, allow_nan=False)),
            "is_poor": column(st.integers(0, 1)),
            "region": column(st.sampled_from(["north", "south", "east"])),
            "band": column(st.sampled_from(["young", "old"])),
        }
    )


PROPERTY_DESIGN = Design("weight", "stratum", "psu")


@settings(max_examples=60, deadline=None)
@given(survey_frames())
def test_constant_ratio_has_zero_se(frame: pl.DataFrame) -> None:
    """y == x gives ratio 1 with SE exactly 0, overall and in every domain."""
    result = estimate_ratios(
        frame, ratios={"same": ("x", "x")}, design=PROPERTY_DESIGN, by=["region"]
    )
    assert result["estimate"].to_list() == pytest.approx([1.0] * result.height, rel=1e-12)
    assert result["se"].max() == pytest.approx(0.0, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(survey_frames())
def test_share_of_a_flag_lies_in_unit_interval(frame: pl.DataFrame) -> None:
    """The weighted mean of a 0/1 indicator is a fraction in [0, 1] in every domain."""
    result = estimate_means(frame, variables=["is_poor"], design=PROPERTY_DESIGN, by=["region"])
    assert result["estimate"].is_between(0.0, 1.0).all()
    assert (result["se"] >= 0.0).all()


@settings(max_examples=60, deadline=None)
@given(survey_frames())
def test_domain_equals_ratio_of_zeroed_variables(frame: pl.DataFrame) -> None:
    """A `by` domain equals the overall ratio of y·1[domain] / x·1[domain] on the full design."""
    by_domain = estimate_ratios(
        frame, ratios={"r": ("y", "x")}, design=PROPERTY_DESIGN, by=["region"]
    )
    for region in frame["region"].unique().to_list():
        member = (pl.col("region") == region).cast(pl.Float64)
        zeroed = frame.with_columns(y_d=pl.col("y") * member, x_d=pl.col("x") * member)
        overall = _row(
            estimate_ratios(zeroed, ratios={"r": ("y_d", "x_d")}, design=PROPERTY_DESIGN)
        )
        domain = _row(by_domain, "region", region)
        assert domain["estimate"] == pytest.approx(overall["estimate"], rel=1e-9)
        assert domain["se"] == pytest.approx(overall["se"], rel=1e-6, abs=1e-12)
        assert domain["denominator_total"] == pytest.approx(overall["denominator_total"], rel=1e-12)


POST_PROPERTY_DESIGN = Design("weight", "stratum", "psu", poststrata="band")
POST_PROPERTY_DESIGNS = {
    # PSUs span both bands: residualised PSU by PSU
    "crossed": POST_PROPERTY_DESIGN,
    # each row its own PSU, or PSUs nested in bands: per stratum × band sums
    "rows": Design("weight", "stratum", poststrata="band"),
    "nested": Design("weight", "stratum", "psu", poststrata="psu_band"),
}


@settings(max_examples=60, deadline=None)
@given(survey_frames(), st.sampled_from(sorted(POST_PROPERTY_DESIGNS)))
def test_poststratified_domain_equals_zeroed_variables(frame: pl.DataFrame, layout: str) -> None:
    """Post-stratified, a `by` domain equals the overall ratio/total of zeroed variables.

    Overall, every PSU holds a member; in a domain, PSUs without members still carry the
    shift −b_i of their post-strata, which the domain run must add in.
    """
    design = POST_PROPERTY_DESIGNS[layout]
    frame = frame.with_columns(psu_band=(pl.col("psu") % 2).cast(pl.String))
    ratios = estimate_ratios(frame, ratios={"r": ("y", "x")}, design=design, by=["region"])
    totals = estimate_totals(frame, variables=["y"], design=design, by=["region"])
    for region in frame["region"].unique().to_list():
        member = (pl.col("region") == region).cast(pl.Float64)
        zeroed = frame.with_columns(y_d=pl.col("y") * member, x_d=pl.col("x") * member)
        ratio = _row(estimate_ratios(zeroed, ratios={"r": ("y_d", "x_d")}, design=design))
        total = _row(estimate_totals(zeroed, variables=["y_d"], design=design))
        for domain, overall in (
            (_row(ratios, "region", region), ratio),
            (_row(totals, "region", region), total),
        ):
            assert domain["estimate"] == pytest.approx(overall["estimate"], rel=1e-9, abs=1e-9)
            assert domain["se"] == pytest.approx(overall["se"], rel=1e-9, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    survey_frames(),
    st.floats(min_value=1.0, max_value=1e6, allow_nan=False),
    st.floats(min_value=1.0, max_value=1e6, allow_nan=False),
)
def test_poststratified_weights_reproduce_the_totals(
    frame: pl.DataFrame, young: float, old: float
) -> None:
    """After poststratify, each post-stratum's weights add up to its total (to rounding)."""
    totals = {"young": young, "old": old}
    present = {band: totals[band] for band in frame["band"].unique().to_list()}
    weighted = poststratify(frame, weight="weight", poststrata="band", totals=present).collect()
    sums = dict(weighted.group_by("band").agg(pl.col("weight").sum()).iter_rows())
    assert sums == pytest.approx(present, rel=1e-12)
    assert weighted.height == frame.height


@settings(max_examples=60, deadline=None)
@given(survey_frames(), st.booleans())
def test_logit_interval_stays_in_unit_interval_and_holds_the_estimate(
    frame: pl.DataFrame, is_poststratified: bool
) -> None:
    """For a 0/1 flag the logit limits satisfy 0 ≤ low ≤ p ≤ high ≤ 1 in every domain."""
    design = POST_PROPERTY_DESIGN if is_poststratified else PROPERTY_DESIGN
    result = estimate_means(
        frame, variables=["is_poor"], design=design, by=["region"], bounded=["is_poor"]
    )
    if result["df"][0] <= 0:
        assert result["ci_low"].null_count() == result.height
        return
    assert (result["ci_low"] >= 0.0).all()
    assert (result["ci_low"] <= result["estimate"]).all()
    assert (result["estimate"] <= result["ci_high"]).all()
    assert (result["ci_high"] <= 1.0).all()


@st.composite
def psu_total_frames(draw: st.DrawFn) -> pl.DataFrame:
    """PSU totals as the estimator holds them: two group types, a null domain value, strata,
    PSUs, three w·y columns of mixed sign (one often zero, so some denominators are 0).

    Both group types are always present: with a single domain, polars broadcasts its totals
    as a scalar and divides by multiplying with the reciprocal (1 ulp off a true division),
    which the numpy path does not copy."""
    n = draw(st.integers(min_value=2, max_value=60))

    def column(elements: st.SearchStrategy) -> list:
        return draw(st.lists(elements, min_size=n, max_size=n))

    value = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_subnormal=False)
    frame = pl.DataFrame(
        {
            "__svy_order": [
                0,
                1,
                *draw(st.lists(st.integers(0, 1), min_size=n - 2, max_size=n - 2)),
            ],
            "__svy_stratum": column(st.integers(0, 2)),
            "__svy_psu": column(st.integers(0, 5)),
            "group_value": column(st.sampled_from(["a", "b", None])),
            "__w0": column(value),
            "__w1": column(st.one_of(st.just(0.0), value)),
            "__w2": column(value),
            "n_obs": column(st.integers(1, 9)),
        }
    ).with_columns(group_type=pl.format("type{}", "__svy_order"))
    keys = ["__svy_order", "group_type", "group_value", "__svy_stratum", "__svy_psu"]
    return frame.unique(keys, keep="first", maintain_order=True).sample(
        fraction=1.0, shuffle=True, seed=draw(st.integers(0, 2**16))
    )


@settings(max_examples=80, deadline=None)
@given(psu_total_frames())
def test_stratum_sums_statistic_by_statistic_equal_the_polars_linearisation(
    psu_sums: pl.DataFrame,
) -> None:
    """The variance's per-stratum sums, linearised one statistic at a time in numpy, equal bit
    for bit those of every statistic's z as polars expressions (the post-stratified path),
    with zero denominators, a total and a difference among the statistics."""
    specs = [
        _Statistic("r", "y", "x"),
        _Statistic("share", "y", "flag"),
        _Statistic("total", "x", None, is_total=True),
        _Statistic("diff", "y", "x", minus=(0, 1)),
    ]
    weighted = _weighted_columns(specs)
    assert list(weighted.values()) == ["__w0", "__w1", "__w2", "__w3"]
    psu_sums = psu_sums.with_columns(__w3=pl.col("__w0") - pl.col("__w2"))
    columns = list(weighted.values())
    totals = exact_sums(psu_sums, by=_DOMAIN, columns=[*columns, "n_obs"]).rename(
        {name: name.upper() for name in columns}
    )
    keys = [*_DOMAIN, "__svy_stratum"]
    numpy_path = _stratum_sums(psu_sums, totals, specs, weighted).sort(keys, nulls_last=True)
    polars_path = _z_stratum_sums(_z_cells(psu_sums, totals, specs, weighted), len(specs))
    assert numpy_path.equals(polars_path.sort(keys, nulls_last=True), null_equal=True)


def test_an_estimate_leaves_no_reference_cycle() -> None:
    """An estimate's PSU totals and working arrays are freed when it returns, not left in a
    reference cycle for Python's cyclic collector (with PSUs, strata, a domain and a
    difference, the path the recursive closure of the variance step took)."""
    rows = 200
    frame = pl.DataFrame(
        {
            "w": [1.0 + (i % 7) / 3 for i in range(rows)],
            "stratum": [i % 4 for i in range(rows)],
            "psu": [i % 30 for i in range(rows)],
            "group": [i % 3 for i in range(rows)],
            "y": [(i * 37 % 11) / 11 for i in range(rows)],
            "x": [1.0 + (i * 13 % 5) for i in range(rows)],
            "flag": [float(i * 7 % 3 == 0) for i in range(rows)],
        }
    )

    def estimate() -> pl.DataFrame:
        return estimate_ratios(
            frame,
            ratios={"ratio": ("y", "x"), "share": ("y", "flag")},
            differences={"difference": ("ratio", "share")},
            design=Design(weight="w", strata="stratum", psu="psu"),
            by=["group"],
        )

    estimate()  # imports and caches of the first call are not the call's garbage
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)  # what the collector finds is kept in gc.garbage
    gc.disable()
    try:
        assert estimate().height == 3 * (1 + 3)
        gc.collect()
        held = [  # only data: another test's threads in this process may leave other garbage
            type(o).__name__
            for o in gc.garbage
            if isinstance(o, np.ndarray | pl.DataFrame | pl.Series | pl.LazyFrame)
        ]
    finally:
        gc.set_debug(0)
        gc.enable()
        gc.garbage.clear()
    assert held == []


def test_domains_of_any_type_equal_the_same_domains_given_as_strings() -> None:
    """Integer, boolean, float and null domain values are made strings after the PSU sums:
    every number equals that of the same columns cast to strings beforehand, bit for bit, and
    0.0 and -0.0 stay two domains, as their strings are."""
    rows = 120
    frame = pl.DataFrame(
        {
            "w": [1.0 + (i % 5) / 2 for i in range(rows)],
            "stratum": [i % 3 for i in range(rows)],
            "psu": [i % 17 for i in range(rows)],
            "quintile": pl.Series([i % 5 + 1 for i in range(rows)], dtype=pl.Int8),
            "urban": [None if i % 11 == 0 else i % 2 == 0 for i in range(rows)],
            "score": [(-0.0, 0.0, 1.5)[i % 3] for i in range(rows)],
            "y": [(i * 37 % 11) / 11 for i in range(rows)],
            "x": [1.0 + (i * 13 % 5) for i in range(rows)],
        }
    )
    by = ["quintile", "urban", "score"]

    def estimate(data: pl.DataFrame) -> pl.DataFrame:
        result = estimate_ratios(
            data,
            ratios={"ratio": ("y", "x")},
            design=Design(weight="w", strata="stratum", psu="psu"),
            by=by,
        )
        return result.sort("group_type", "group_value", nulls_last=True)

    typed = estimate(frame)
    as_strings = estimate(frame.with_columns(pl.col(by).cast(pl.String)))
    assert typed.equals(as_strings, null_equal=True)
    assert set(typed.filter(pl.col("group_type") == "score")["group_value"]) == {
        "-0.0",
        "0.0",
        "1.5",
    }
    assert typed.filter(pl.col("group_type") == "urban")["group_value"].null_count() == 1


@needs_api
@pytest.mark.parametrize(
    "case", [case for case, (_, design, _) in R_CASES.items() if design.strata and design.psu]
)
def test_integer_codes_of_strata_and_psus_give_the_same_numbers_to_the_last_bit(
    case: str,
) -> None:
    """The analysis frame carries integer codes of its strata and PSUs (faster to group and
    sort): every estimate, SE and interval equals the one made on the labels, bit for bit."""
    file, design, by = R_CASES[case]
    frame = _api(file)
    assert design.strata is not None and design.psu is not None
    coded = with_codes(frame, strata=design.strata, psu=design.psu)
    on_codes = replace(design, strata=STRATUM_CODE, psu=PSU_CODE, strata_labels=design.strata)
    labels = _statistics(frame, design, by, TOTALS.get(case))
    codes = _statistics(coded, on_codes, by, TOTALS.get(case))
    assert codes.equals(labels)
    assert labels.height > 5 and labels["se"].drop_nulls().len() > 5


def test_a_lonely_psu_is_named_by_its_label_when_the_design_uses_codes() -> None:
    """The codes are internal: a message names the stratum as the survey labels it."""
    coded = with_codes(LONELY, strata="stratum", psu="psu")
    design = Design("weight", STRATUM_CODE, PSU_CODE, lonely_psu="fail", strata_labels="stratum")
    with pytest.raises(ValueError, match="stratum 'B' of column 'stratum' has only one PSU"):
        estimate_totals(coded, variables=["y"], design=design)
    varying = coded.with_columns(population_psus=pl.Series([4, 5, 1]))
    with pytest.raises(ValueError, match=r"varies within strata \['A'\]"):
        estimate_totals(varying, variables=["y"], design=replace(design, fpc="population_psus"))


@needs_api
def test_psu_totals_summed_in_blocks_of_whole_psus_give_the_same_numbers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With each PSU's rows contiguous, the PSU totals are summed a block of whole PSUs at a
    time (memory); the numbers are those of one pass, bit for bit. PSUs whose rows lie apart
    are summed in one pass."""
    file, design, by = R_CASES["strat_clus"]
    frame = _api(file).sort("stype", "dnum")  # every PSU's rows together
    whole = _statistics(frame, design, by, TOTALS.get("strat_clus"))
    monkeypatch.setattr(survey, "BLOCK_ROWS", 7)
    prepared = survey._prepare(frame.lazy(), {}, design, [by])
    n_psu = frame.select(pl.struct("stype", "dnum").n_unique()).item()
    blocks = survey._psu_blocks(prepared, n_psu, design)
    assert len(blocks) > 5 and sum(length for _, length in blocks) == frame.height
    psu = frame.select(pl.concat_str("stype", "dnum", separator="/")).to_series()
    assert all(psu[offset - 1] != psu[offset] for offset, _ in blocks[1:])  # no PSU is cut
    assert _statistics(frame, design, by, TOTALS.get("strat_clus")).equals(whole)
    shared = next(i for i in range(frame.height - 1) if psu[i] == psu[i + 1])
    apart = pl.concat([frame.slice(0, shared), frame.slice(shared + 1), frame.slice(shared, 1)])
    assert survey._psu_blocks(survey._prepare(apart.lazy(), {}, design, [by]), n_psu, design) == [
        (0, frame.height)
    ]


@needs_api
@pytest.mark.parametrize("case", [*R_CASES, *POSTSTRATIFIED])
def test_variances_one_group_type_at_a_time_give_the_same_numbers(
    case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above VARIANCE_ROWS PSU × domain rows the variances are computed a group type at a
    time (memory): every number equals the one-step result bit for bit, with post-strata too."""
    if case in R_CASES:
        file, design, by = R_CASES[case]
        frame, total = _api(file), TOTALS.get(case)
    else:
        file, design, by, total = POSTSTRATIFIED[case]
        assert design.poststrata is not None
        frame = _poststratified(file, design.poststrata)
    frame = frame.with_columns(both=pl.col(by).cast(pl.String) + pl.col("stype"))
    statistics = [
        _statistics(frame, design, column, total).sort("group_type", "group_value", "statistic")
        for column in (by, "both")
    ]
    monkeypatch.setattr(survey, "VARIANCE_ROWS", 1)
    for column, one_step in zip((by, "both"), statistics, strict=True):
        in_parts = _statistics(frame, design, column, total)
        assert in_parts.sort("group_type", "group_value", "statistic").equals(one_step)


def test_variances_one_group_type_at_a_time_add_the_domain_totals_alike(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A group type whose PSU totals are smaller than another's (here by side: PSU 1's
    'all' total is 2^52, each side's 2^51) adds its domain totals in the fixed point of all
    group types' PSU totals, as in one step, where side c's 3·2^-45 is cut to 0 (in its own,
    finer, fixed point to 2^-44): the same numbers bit for bit."""
    frame = pl.DataFrame(
        {
            "stratum": ["s"] * 7,
            "psu": [1, 1, 1, 1, 2, 3, 3],
            "weight": [1.0] * 7,
            "side": ["a", "a", "b", "b", "c", "a", "b"],
            "y": [2.0**50] * 4 + [3 * 2.0**-45, 1.0, 1.0],
        }
    )
    design = Design("weight", "stratum", "psu")
    one_step = estimate_totals(frame, variables=["y"], design=design, by=["side"])
    assert _row(one_step, "side", "c")["estimate"] == 0.0
    monkeypatch.setattr(survey, "VARIANCE_ROWS", 1)
    assert estimate_totals(frame, variables=["y"], design=design, by=["side"]).equals(one_step)
