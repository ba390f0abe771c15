"""Synthetic multi-region household survey with a mis-targeted, Dibao-like transfer programme.

The generator draws a stratified two-stage sample (strata = region x urban/rural, PSUs =
villages or urban communities), members with consistent ages and relationships, pre-transfer
welfare, proxy-means-test proxies and the actual programme (top-up to a regional per-capita
standard on a noisily assessed income). Raw column names deliberately differ from the
canonical schema; ``audit.toml`` maps them. ``truth.json`` records what an audit should find.

Everything here is pure (no I/O); :mod:`transforms.sample.files` writes the files.

Determinism: the PSU structure is drawn from ``SeedSequence(seed, spawn_key=(0,))``, the
ordinary regions' standards from ``spawn_key=(2,)`` and every block of ``PSUS_PER_BLOCK``
PSUs (~10,000 households) from ``SeedSequence(seed, spawn_key=(1, block))``. A chunk
written to disk is a run of whole blocks, so values depend on the seed and the number of
households only, never on the chunk size or the machine.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import polars as pl
import tomli_w

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
SurveyFormat = Literal["parquet", "csv", "dta"]

NATIONAL_POVERTY_LINE = 6000.0  # LCU per person per year, national prices
NATIONAL_FLOOR = NATIONAL_POVERTY_LINE  # needs-based benefit standard, national prices
MIN_PAYMENT_SHARE = 0.2  # minimum annual payment per household, as a share of the standard
BASE_YEAR = 2025
PROJECTION_YEARS = 25
GDP_PER_CAPITA = 70_000.0  # LCU per person, base year (line ~ 9 % of it)
PSUS_PER_BLOCK = 512
MEAN_PSU_TAKE = 20  # sampled households per PSU: uniform 15..25
ORDINARY_STANDARD_SPREAD = 0.04  # ordinary regions: standard within +-4 % of needs

# Noise of the welfare model, tuned so a weighted logit PMT reaches AUC ~0.8 out of sample.
PSU_EFFECT_SD = 0.22
PERMANENT_SD = 0.30  # household log-welfare variation the proxies partly see
TRANSITORY_SD = 0.55  # log-welfare variation no proxy sees
ASSESSMENT_SD = 0.55  # log error of the income assessed by the programme
ASSESSMENT_BIAS = -0.10  # under-reporting of assessed income (log)
TAKE_UP = 0.45  # approval probability of an assessed-eligible household
PRIORITY_TAKE_UP = 0.2  # extra approval probability with an elderly or disabled member
CAPTURE_RATE = 0.015  # households included through connections regardless of income


@dataclass(frozen=True)
class RegionSpec:
    """Invented parameters of one first-level region."""

    code: str
    name: str
    price_index: float  # spatial cost of living, national = 1
    income_offset: float  # log real welfare of a reference household relative to the line
    urban_share: float  # share of the population in urban strata
    elderly_share: float  # share of households with a member aged 65+
    child_rate: float  # mean children per rural household with working-age adults
    population_millions: float
    education_base: float  # mean years of schooling of a rural 35-year-old
    standard_bias: float | None  # deliberate mis-setting of the standard; None: ordinary


REGIONS: tuple[RegionSpec, ...] = (
    RegionSpec("R01", "Anlan", 1.38, 0.88, 0.85, 0.34, 0.65, 9.6, 10.5, None),
    RegionSpec("R02", "Beihe", 1.30, 0.83, 0.74, 0.36, 0.70, 7.2, 10.0, 0.26),
    RegionSpec("R03", "Changyuan", 1.22, 0.79, 0.66, 0.30, 0.80, 11.8, 9.6, None),
    RegionSpec("R04", "Donglin", 1.15, 0.74, 0.58, 0.38, 0.75, 8.4, 9.2, 0.22),
    RegionSpec("R05", "Fenghai", 1.10, 0.69, 0.55, 0.28, 0.85, 10.6, 9.0, None),
    RegionSpec("R06", "Guishan", 1.05, 0.67, 0.50, 0.40, 0.80, 6.1, 8.6, None),
    RegionSpec("R07", "Hexi", 1.00, 0.58, 0.46, 0.26, 0.95, 9.3, 8.3, None),
    RegionSpec("R08", "Jinping", 0.97, 0.54, 0.44, 0.33, 0.95, 7.7, 8.0, -0.28),
    RegionSpec("R09", "Kunhe", 0.94, 0.55, 0.40, 0.42, 0.85, 5.2, 7.6, None),
    RegionSpec("R10", "Longxi", 0.91, 0.47, 0.36, 0.24, 1.10, 8.9, 7.3, None),
    RegionSpec("R11", "Minshan", 0.88, 0.42, 0.33, 0.31, 1.10, 6.6, 7.0, -0.35),
    RegionSpec("R12", "Nanling", 0.85, 0.38, 0.30, 0.27, 1.20, 7.4, 6.7, None),
    RegionSpec("R13", "Qingtai", 0.83, 0.37, 0.27, 0.35, 1.15, 4.3, 6.4, -0.31),
    RegionSpec("R14", "Xiyu", 0.80, 0.28, 0.24, 0.22, 1.30, 5.5, 6.0, None),
)

AGE_GROUPS = ("0-14", "15-64", "65+")
ROOF_LABELS = {1: "thatch or straw", 2: "metal sheet", 3: "clay tiles", 4: "concrete"}
FLOOR_LABELS = {1: "earth", 2: "wood planks", 3: "cement", 4: "ceramic tiles"}
WALL_LABELS = {1: "mud or adobe", 2: "wood", 3: "fired brick", 4: "concrete block"}
WATER_LABELS = {
    1: "surface water",
    2: "unprotected well",
    3: "protected well or spring",
    4: "public tap",
    5: "piped into dwelling",
}
TOILET_LABELS = {1: "none", 2: "pit latrine", 3: "improved latrine", 4: "flush toilet"}
SEX_LABELS = {1: "male", 2: "female"}
RELATION_LABELS = {
    1: "head",
    2: "spouse",
    3: "child",
    4: "parent",
    5: "grandchild",
    6: "other relative",
    7: "not related",
}

# canonical proxy name -> (raw column, kind, value labels)
PROXIES: dict[str, tuple[str, Literal["numeric", "categorical"], dict[int, str]]] = {
    "rooms": ("q_rooms", "numeric", {}),
    "roof": ("q_roof", "categorical", ROOF_LABELS),
    "floor": ("q_floor", "categorical", FLOOR_LABELS),
    "wall": ("q_wall", "categorical", WALL_LABELS),
    "water": ("q_water", "categorical", WATER_LABELS),
    "toilet": ("q_toilet", "categorical", TOILET_LABELS),
    "has_electricity": ("q_elec", "numeric", {}),
    "has_tv": ("q_tv", "numeric", {}),
    "has_fridge": ("q_fridge", "numeric", {}),
    "has_motorbike": ("q_motorbike", "numeric", {}),
    "phones": ("q_phone", "numeric", {}),
    "land_ha": ("q_land_ha", "numeric", {}),
    "livestock": ("q_livestock", "numeric", {}),
}


@dataclass(frozen=True)
class SurveyDesign:
    """PSU-level sample structure (one entry per PSU, ordered by stratum)."""

    region: IntArray  # index into REGIONS
    urban: BoolArray
    take: IntArray  # sampled households
    weight: FloatArray  # population households represented per sampled household
    effect: FloatArray  # PSU log-welfare effect
    infrastructure: FloatArray  # latent PSU infrastructure (water, electricity)
    psu_id: pl.Series  # raw PSU identifier, e.g. "R0110003"


@dataclass(frozen=True)
class Households:
    """Household-level arrays of one block."""

    psu: IntArray
    region: IntArray
    urban: BoolArray
    size: IntArray
    n_work: IntArray
    n_elder: IntArray
    n_child: IntArray
    head_is_elder: BoolArray


@dataclass(frozen=True)
class Members:
    """Person-level arrays of one block, rows grouped by household, head first."""

    household: IntArray  # index into the block's households
    position: IntArray  # 0 = head
    age: IntArray
    sex: IntArray  # 1 male, 2 female
    relation: IntArray  # RELATION_LABELS code
    education: IntArray
    disabled: BoolArray
    working: BoolArray


@dataclass(frozen=True)
class Block:
    """One generated block: raw household and member frames plus region tallies."""

    households: pl.DataFrame
    members: pl.DataFrame
    tallies: FloatArray  # shape (n_regions, len(TALLY_COLUMNS))


TALLY_COLUMNS = (
    "persons",
    "poor",
    "beneficiaries",
    "poor_beneficiaries",
    "spending",
    "households",
    "age_0_14",
    "age_15_64",
    "age_65_plus",
)


def region_array(field: str) -> FloatArray:
    """One numeric RegionSpec field as an array ordered like REGIONS."""
    return np.array([float(getattr(spec, field)) for spec in REGIONS], dtype=np.float64)


def block_rng(seed: int, block: int) -> np.random.Generator:
    """Generator of one block, independent of chunking and machine."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1, block)))


def design_rng(seed: int) -> np.random.Generator:
    """Generator of the PSU structure (strata allocation, takes, weights, PSU effects)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,)))


def stratum_population() -> tuple[FloatArray, FloatArray]:
    """Persons and households per stratum (region-major, urban first)."""
    population = region_array("population_millions") * 1e6
    urban_share = region_array("urban_share")
    persons = np.column_stack([population * urban_share, population * (1 - urban_share)])
    households = persons / np.array([3.1, 3.7])
    return persons.ravel(), households.ravel()


def allocate(total: int, shares: FloatArray) -> IntArray:
    """Split an integer total proportionally to shares by largest remainders."""
    exact = total * shares / shares.sum()
    counts = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: total - int(counts.sum())]] += 1
    return counts


def psu_takes(rng: np.random.Generator, n_psu: int, households: int) -> IntArray:
    """Sampled households per PSU (15..25), nudged so they sum to the requested total."""
    take = rng.integers(15, 26, n_psu)
    gap = households - int(take.sum())
    while gap > 0:
        take += np.bincount(rng.integers(0, n_psu, gap), minlength=n_psu)
        gap = households - int(take.sum())
    while gap < 0:
        candidates = np.flatnonzero(take > 1)
        chosen = rng.choice(candidates, size=min(-gap, candidates.size), replace=False)
        take[chosen] -= 1
        gap += chosen.size
    return take


def psu_identifiers(stratum: IntArray) -> pl.Series:
    """Raw PSU ids: region code, area code (1 urban, 2 rural), sequence of 4+ digits."""
    codes = [f"{REGIONS[s // 2].code}{s % 2 + 1}" for s in range(2 * len(REGIONS))]
    starts = np.searchsorted(stratum, stratum, side="left")
    sequence = np.arange(stratum.size) - starts + 1
    width = max(4, len(str(int(sequence.max()))))
    return pl.Series(
        "ea_id", [f"{codes[s]}{q:0{width}d}" for s, q in zip(stratum, sequence, strict=True)]
    )


def build_design(seed: int, households: int) -> SurveyDesign:
    """Draw strata allocation, PSU sizes, weights and PSU effects for the whole sample."""
    rng = design_rng(seed)
    persons, population_households = stratum_population()
    n_psu = max(1, round(households / MEAN_PSU_TAKE))
    per_stratum = allocate(n_psu, persons**0.7)  # disproportionate: small strata oversampled
    stratum = np.repeat(np.arange(persons.size), per_stratum)
    take = psu_takes(rng, n_psu, households)
    size_error = np.exp(rng.normal(0.0, 0.35, n_psu))
    mean_error = np.bincount(stratum, size_error, persons.size) / np.maximum(per_stratum, 1)
    represented = population_households[stratum] / per_stratum[stratum]
    represented *= size_error / mean_error[stratum]
    urban = stratum % 2 == 0
    effect = rng.normal(0.0, PSU_EFFECT_SD, n_psu)
    infrastructure = effect / PSU_EFFECT_SD * 0.6 + urban * 1.2 + rng.normal(0.0, 0.8, n_psu)
    return SurveyDesign(
        region=stratum // 2,
        urban=urban,
        take=take,
        weight=represented / take,
        effect=effect,
        infrastructure=infrastructure,
        psu_id=psu_identifiers(stratum),
    )


def benefit_standards(seed: int) -> FloatArray:
    """Regional per-capita annual standards: needs-based, ordinary +-4 %, mis-set regions off."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2,)))
    ordinary = rng.uniform(-ORDINARY_STANDARD_SPREAD, ORDINARY_STANDARD_SPREAD, len(REGIONS))
    bias = np.array(
        [ordinary[i] if s.standard_bias is None else s.standard_bias for i, s in enumerate(REGIONS)]
    )
    monthly = NATIONAL_FLOOR * region_array("price_index") * (1 + bias) / 12
    return np.round(monthly) * 12


def poverty_lines() -> FloatArray:
    """Regional per-capita annual poverty lines: national line x price index (LCU)."""
    return np.round(NATIONAL_POVERTY_LINE * region_array("price_index"), 2)


def household_composition(
    rng: np.random.Generator, region: IntArray, urban: BoolArray
) -> tuple[IntArray, IntArray, IntArray, BoolArray]:
    """Working-age adults, elderly, children per household and whether the head is elderly."""
    n = region.size
    has_elder = rng.random(n) < region_array("elderly_share")[region] + 0.06 * ~urban
    elder_only = has_elder & (rng.random(n) < 0.28)
    n_elder = has_elder * (1 + (rng.random(n) < 0.45))
    n_work = ~elder_only * (1 + rng.binomial(4, np.where(urban, 0.28, 0.38)))
    child_rate = region_array("child_rate")[region] * np.where(urban, 0.8, 1.05)
    n_child = rng.poisson(np.where(elder_only, 0.15, child_rate))
    n_child = np.minimum(n_child, 12 - n_elder - n_work)
    head_is_elder = elder_only | (has_elder & (rng.random(n) < np.where(urban, 0.25, 0.4)))
    as_int = np.int64
    return n_work.astype(as_int), n_elder.astype(as_int), n_child.astype(as_int), head_is_elder


def member_layout(hh: Households) -> tuple[IntArray, IntArray, IntArray]:
    """Household index, position (0 = head) and generation (0 child, 1 working, 2 elder)."""
    household = np.repeat(np.arange(hh.size.size), hh.size)
    start = np.cumsum(hh.size) - hh.size
    position = np.arange(household.size) - start[household]
    first = np.where(hh.head_is_elder, hh.n_elder, hh.n_work)[household]
    second = np.where(hh.head_is_elder, hh.n_work, hh.n_elder)[household]
    head_elder = hh.head_is_elder[household]
    first_kind = np.where(head_elder, 2, 1)
    second_kind = np.where(head_elder, 1, 2)
    kind = np.where(
        position < first, first_kind, np.where(position < first + second, second_kind, 0)
    )
    return household, position, kind


def member_ages(
    rng: np.random.Generator,
    hh: Households,
    household: IntArray,
    position: IntArray,
    kind: IntArray,
) -> tuple[IntArray, BoolArray]:
    """Ages consistent with the head's generation, and the spouse flag."""
    n = household.size
    head_elder = hh.head_is_elder[household]
    head_age_hh = np.where(
        hh.head_is_elder,
        65 + np.minimum(rng.exponential(7.0, hh.size.size), 35),
        22 + 42 * rng.beta(2.0, 2.2, hh.size.size),
    )
    head_age = head_age_hh[household]
    head_kind = np.where(head_elder, 2, 1)
    spouse = (position == 1) & (kind == head_kind) & (rng.random(n) < 0.88)
    spouse_age = np.clip(head_age + rng.normal(-2.0, 4.0, n), np.where(head_elder, 65, 18), 100)
    parent_age = np.maximum(
        head_age + np.maximum(rng.normal(25, 3, n), 16), 65 + rng.exponential(6.0, n)
    )
    adult_child_age = np.clip(
        head_age - 28 + rng.normal(0, 5, n), 15, np.minimum(head_age - 16, 64)
    )
    young_adult_age = 15 + 20 * rng.beta(1.5, 1.5, n)
    child_span = np.where(head_elder, 15, np.clip(head_age - 15, 1, 15))
    child_age = np.floor(rng.random(n) * child_span)
    other_age = np.select(
        [kind == 0, (kind == 2) & ~head_elder, (kind == 1) & head_elder],
        [child_age, parent_age, adult_child_age],
        young_adult_age,
    )
    age = np.where(position == 0, head_age, np.where(spouse, spouse_age, other_age))
    return np.minimum(np.floor(age), 100).astype(np.int64), spouse


def member_relations(
    rng: np.random.Generator,
    hh: Households,
    members: tuple[IntArray, IntArray, IntArray],
    age: IntArray,
    spouse: BoolArray,
) -> IntArray:
    """Relationship to head: 1 head, 2 spouse, 3 child, 4 parent, 5 grandchild, 6/7 others."""
    household, position, kind = members
    head_elder = hh.head_is_elder[household]
    head_age = age[(np.cumsum(hh.size) - hh.size)[household]]
    young_is_child = head_age - age >= 15
    unrelated = rng.random(household.size) < 0.02
    other_working = np.where(young_is_child, 3, np.where(unrelated, 7, 6))
    relation = np.select(
        [position == 0, spouse, kind == 0, kind == 2, head_elder],
        [1, 2, np.where(head_elder, 5, 3), np.where(head_elder, 6, 4), 3],
        other_working,
    )
    return relation.astype(np.int64)


def member_sex(
    rng: np.random.Generator,
    hh: Households,
    household: IntArray,
    position: IntArray,
    spouse: BoolArray,
) -> IntArray:
    """Sex 1 male / 2 female; the spouse has the head's opposite sex."""
    head_male_hh = rng.random(hh.size.size) < np.where(hh.head_is_elder, 0.6, 0.8)
    head_male = head_male_hh[household]
    other_male = rng.random(household.size) < 0.5
    male = np.where(position == 0, head_male, np.where(spouse, ~head_male, other_male))
    return np.where(male, 1, 2).astype(np.int64)


def member_education(
    rng: np.random.Generator, hh: Households, household: IntArray, age: IntArray
) -> IntArray:
    """Completed years of schooling: cohort-, region- and urban-dependent; children by age."""
    n = household.size
    base = region_array("education_base")[hh.region[household]] + 3.0 * hh.urban[household]
    adult = base - 0.09 * np.maximum(age - 35, 0) + rng.normal(0.0, 2.8, n)
    child = np.minimum(age - 6 + np.round(rng.normal(0.0, 0.6, n)), 12)
    years = np.where(age >= 18, adult, np.minimum(child, adult))
    return np.clip(np.rint(years), 0, 19).astype(np.int64)


def member_work_and_disability(
    rng: np.random.Generator, hh: Households, household: IntArray, age: IntArray, sex: IntArray
) -> tuple[BoolArray, BoolArray]:
    """Disability rising with age; employment by age, sex, disability and area."""
    n = household.size
    disabled = rng.random(n) < 0.008 + 0.02 * (age >= 15) + 0.0035 * np.maximum(age - 50, 0)
    prime = np.where(sex == 1, 0.86, 0.63) * np.where(disabled, 0.3, 1.0)
    elder = np.where(hh.urban[household], 0.08, 0.3) * np.where(age < 75, 1.0, 0.4)
    share = np.select([age < 15, age < 18, age < 65], [0.0, 0.12, prime], elder)
    return rng.random(n) < share, disabled


def draw_households(rng: np.random.Generator, design: SurveyDesign, psus: IntArray) -> Households:
    """Households of the given PSUs with their composition."""
    psu = np.repeat(psus, design.take[psus])
    region, urban = design.region[psu], design.urban[psu]
    n_work, n_elder, n_child, head_is_elder = household_composition(rng, region, urban)
    size = n_work + n_elder + n_child
    return Households(psu, region, urban, size, n_work, n_elder, n_child, head_is_elder)


def draw_members(rng: np.random.Generator, hh: Households) -> Members:
    """Members of the households, head first, with all person attributes."""
    household, position, kind = member_layout(hh)
    age, spouse = member_ages(rng, hh, household, position, kind)
    relation = member_relations(rng, hh, (household, position, kind), age, spouse)
    sex = member_sex(rng, hh, household, position, spouse)
    education = member_education(rng, hh, household, age)
    working, disabled = member_work_and_disability(rng, hh, household, age, sex)
    return Members(household, position, age, sex, relation, education, disabled, working)


def household_totals(hh: Households, members: Members) -> dict[str, FloatArray]:
    """Member aggregates per household used by the welfare and programme models."""
    n = hh.size.size
    head = np.cumsum(hh.size) - hh.size

    def count(flag: BoolArray) -> FloatArray:
        return np.bincount(members.household, flag, minlength=n).astype(np.float64)

    return {
        "children": count(members.age < 15),
        "elderly": count(members.age >= 65),
        "employed": count(members.working),
        "disabled": count(members.disabled),
        "head_education": members.education[head].astype(np.float64),
        "head_female": (members.sex[head] == 2).astype(np.float64),
    }


def permanent_welfare(
    rng: np.random.Generator, design: SurveyDesign, hh: Households, totals: dict[str, FloatArray]
) -> FloatArray:
    """Log real per-capita welfare relative to the national line, the part proxies can see."""
    size = hh.size.astype(np.float64)
    return (
        region_array("income_offset")[hh.region]
        + 0.30 * hh.urban
        + design.effect[hh.psu]
        + 0.045 * (totals["head_education"] - 8)
        + 0.45 * totals["employed"] / size
        - 0.30 * (totals["children"] + totals["elderly"]) / size
        - 0.15 * np.log(size)
        - 0.12 * (totals["disabled"] > 0)
        - 0.05 * totals["head_female"]
        + rng.normal(0.0, PERMANENT_SD, size.size)
    )


def ordered_codes(latent: FloatArray, cuts: tuple[float, ...]) -> IntArray:
    """Ordered categorical codes 1..len(cuts)+1 from a latent index."""
    return (np.searchsorted(np.asarray(cuts), latent) + 1).astype(np.int64)


def dwelling_proxies(
    rng: np.random.Generator, design: SurveyDesign, hh: Households, standing: FloatArray
) -> dict[str, IntArray]:
    """Rooms and roof/floor/wall/water/toilet codes, correlated with welfare and the PSU."""
    n = standing.size
    infra = design.infrastructure[hh.psu]
    urban = hh.urban.astype(np.float64)

    def latent(load: float, urban_load: float, infra_load: float) -> FloatArray:
        return load * standing + urban_load * urban + infra_load * infra + rng.normal(0, 1, n)

    rooms = np.exp(0.35 + 0.12 * standing + 0.3 * np.log(hh.size) - 0.15 * urban)
    return {
        "q_rooms": np.clip(np.rint(rooms * np.exp(rng.normal(0, 0.25, n))), 1, 10).astype(np.int64),
        "q_roof": ordered_codes(latent(0.55, 0.5, 0.2), (-1.3, 0.0, 1.3)),
        "q_floor": ordered_codes(latent(0.6, 0.6, 0.2), (-0.9, 0.1, 1.5)),
        "q_wall": ordered_codes(latent(0.5, 0.5, 0.2), (-1.2, -0.2, 1.2)),
        "q_water": ordered_codes(latent(0.3, 0.3, 0.9), (-1.8, -0.9, 0.2, 1.2)),
        "q_toilet": ordered_codes(latent(0.5, 0.7, 0.5), (-1.2, 0.0, 1.0)),
    }


def asset_proxies(
    rng: np.random.Generator, design: SurveyDesign, hh: Households, standing: FloatArray
) -> dict[str, IntArray]:
    """Electricity, TV, fridge, motorbike and phone count, correlated with welfare."""
    n = standing.size
    urban = hh.urban.astype(np.float64)
    grid = design.infrastructure[hh.psu] > -2.0
    electricity = grid & (rng.normal(0, 1, n) + 0.5 * standing > -2.3)

    def owns(load: float, urban_load: float, cut: float) -> BoolArray:
        return load * standing + urban_load * urban + rng.normal(0, 1, n) > cut

    adults = (hh.n_work + hh.n_elder).astype(np.float64)
    phones = rng.poisson(np.exp(-0.3 + 0.18 * standing + 0.6 * np.log(adults) + 0.1 * urban))
    return {
        "q_elec": electricity.astype(np.int64),
        "q_tv": (electricity & owns(0.6, 0.3, -0.9)).astype(np.int64),
        "q_fridge": (electricity & owns(0.7, 0.5, 0.4)).astype(np.int64),
        "q_motorbike": owns(0.5, -0.4, 0.5).astype(np.int64),
        "q_phone": np.minimum(phones, 6).astype(np.int64),
    }


def land_proxies(
    rng: np.random.Generator, hh: Households, standing: FloatArray
) -> dict[str, FloatArray | IntArray]:
    """Farm land (ha, mostly rural) and large livestock head count."""
    n = standing.size
    farming = rng.random(n) < np.where(hh.urban, 0.08, 0.85)
    land = farming * np.exp(-0.9 + 0.2 * standing + 0.25 * np.log(hh.size) + rng.normal(0, 0.7, n))
    herd = rng.poisson(farming * np.exp(-0.6 + 0.15 * standing + 0.5 * np.log1p(land)))
    return {
        "q_land_ha": np.round(land, 2).astype(np.float64),
        "q_livestock": np.minimum(herd, 40).astype(np.int64),
    }


def programme_benefits(
    rng: np.random.Generator,
    hh: Households,
    totals: dict[str, FloatArray],
    income: FloatArray,
    standard: FloatArray,
) -> tuple[BoolArray, FloatArray]:
    """Receipt and annual benefit (LCU): top-up of a noisily assessed income to the standard."""
    n = income.size
    assessed = income * hh.size * np.exp(rng.normal(ASSESSMENT_BIAS, ASSESSMENT_SD, n))
    guarantee = hh.size * standard
    priority = (totals["elderly"] + totals["disabled"]) > 0
    approved = rng.random(n) < TAKE_UP + PRIORITY_TAKE_UP * priority
    captured = rng.random(n) < CAPTURE_RATE
    receives = ((assessed < guarantee) & approved) | captured
    top_up = np.maximum(MIN_PAYMENT_SHARE * standard, guarantee - assessed)
    amount = np.where(receives, np.round(top_up / 12) * 12, 0.0)
    return receives, amount


PENSION_MONTHLY = 150.0  # LCU per pensioner per month
PENSION_TAKE_UP = 0.75  # share of people aged 65+ drawing the social pension
CHILD_GRANT_PER_CHILD = 480.0  # LCU per child per year
CHILD_GRANT_TAKE_UP = 0.6
EXTRA_PROGRAMMES_STREAM = 7  # the extra programmes draw from their own stream


def extra_programmes(
    seed: int, block: int, hh: Households, members: Members, income: FloatArray, lines: FloatArray
) -> tuple[dict[str, npt.NDArray[Any]], dict[str, npt.NDArray[Any]]]:
    """Two more programmes, from a random stream of their own (so every other column is the
    same with or without them): a member-level social pension (monthly, to people aged 65+,
    most of whom draw it whatever their income) and a household-level child grant (per child,
    to households with children under 1.5 times the line, with take-up). Neither is in the
    welfare aggregate. Returns household columns and member columns."""
    rng = np.random.default_rng([seed, block, EXTRA_PROGRAMMES_STREAM])
    elderly = members.age >= 65
    pension = elderly & (rng.random(members.age.size) < PENSION_TAKE_UP)
    eligible = (hh.n_child > 0) & (income < 1.5 * lines[hh.region])
    grant = eligible & (rng.random(income.size) < CHILD_GRANT_TAKE_UP)
    household = {
        "cg_recv": grant.astype(np.int8),
        "cg_amt": np.where(grant, CHILD_GRANT_PER_CHILD * hh.n_child, 0.0),
    }
    member = {
        "pens_recv": pension.astype(np.int8),
        "pens_amt": np.where(pension, PENSION_MONTHLY, 0.0),
    }
    return household, member


def household_frame(
    design: SurveyDesign, hh: Households, columns: Mapping[str, npt.NDArray[Any]]
) -> pl.DataFrame:
    """Raw household rows: ids, design, welfare, programme and proxy columns."""
    sequence = np.arange(hh.psu.size) - np.searchsorted(hh.psu, hh.psu) + 1
    codes = pl.Series([spec.code for spec in REGIONS]).gather(hh.region)
    area = np.where(hh.urban, 1, 2).astype(np.int8)
    frame = pl.DataFrame(
        {
            "ea_id": design.psu_id.gather(hh.psu),
            "sequence": sequence,
            "prov_code": codes,
            "area": area,
            "hhsize": hh.size.astype(np.int16),
            **{name: values for name, values in columns.items()},
        }
    )
    return frame.select(
        pl.concat_str("ea_id", pl.col("sequence").cast(pl.String).str.zfill(3)).alias("HHID"),
        "prov_code",
        "area",
        pl.concat_str("prov_code", pl.lit("-"), pl.col("area").cast(pl.String)).alias("strat_id"),
        "ea_id",
        pl.exclude("ea_id", "sequence", "prov_code", "area"),
    )


def member_frame(
    household_ids: pl.Series, members: Members, extra: Mapping[str, npt.NDArray[Any]]
) -> pl.DataFrame:
    """Raw member rows: HHID, PID and person attributes with survey-style codes."""
    frame = pl.DataFrame(
        {
            "HHID": household_ids.gather(members.household),
            "PID": pl.Series(members.position + 1).cast(pl.String).str.zfill(2),
            "age_yrs": members.age.astype(np.int16),
            "gender": members.sex.astype(np.int8),
            "rel_head": members.relation.astype(np.int8),
            "educ_yrs": members.education.astype(np.int8),
            "disab": np.where(members.disabled, 1, 2).astype(np.int8),
            "work": members.working.astype(np.int8),
            **extra,
        }
    )
    return frame


def block_tallies(
    hh: Households, members: Members, weight: FloatArray, is_poor: BoolArray, amount: FloatArray
) -> FloatArray:
    """Weighted region totals of one block, in the order of TALLY_COLUMNS."""
    n_regions = len(REGIONS)
    persons = weight * hh.size
    receives = amount > 0

    def by_region(values: FloatArray) -> FloatArray:
        return np.bincount(hh.region, values, minlength=n_regions).astype(np.float64)

    group = np.digitize(members.age, [15, 65])
    cell = hh.region[members.household] * 3 + group
    ages = np.bincount(cell, weight[members.household], minlength=3 * n_regions)
    columns = [
        by_region(persons),
        by_region(persons * is_poor),
        by_region(persons * receives),
        by_region(persons * (is_poor & receives)),
        by_region(weight * amount),
        by_region(weight),
    ]
    return np.column_stack([*columns, ages.reshape(n_regions, 3)])


def generate_block(
    seed: int, block: int, design: SurveyDesign, standards: FloatArray, lines: FloatArray
) -> Block:
    """Households, members and region tallies of PSU block number `block`."""
    rng = block_rng(seed, block)
    psus = np.arange(block * PSUS_PER_BLOCK, min((block + 1) * PSUS_PER_BLOCK, design.take.size))
    hh = draw_households(rng, design, psus)
    members = draw_members(rng, hh)
    totals = household_totals(hh, members)
    permanent = permanent_welfare(rng, design, hh, totals)
    log_real = permanent + rng.normal(0.0, TRANSITORY_SD, permanent.size)
    income = np.round(lines[hh.region] * np.exp(log_real), 2)  # pre-transfer, per capita
    standing = (permanent - 0.45) / 0.65
    proxies = {
        **dwelling_proxies(rng, design, hh, standing),
        **asset_proxies(rng, design, hh, standing),
        **land_proxies(rng, hh, standing),
    }
    receives, amount = programme_benefits(rng, hh, totals, income, standards[hh.region])
    welfare = np.round(income + amount / hh.size, 2)
    weight = np.round(design.weight[hh.psu] * np.exp(rng.normal(0.0, 0.12, hh.psu.size)), 3)
    grant, pension = extra_programmes(seed, block, hh, members, income, lines)
    columns = {
        "wt_hh": weight,
        "pcexp": welfare,
        "prog_recv": receives.astype(np.int8),
        "prog_amt": amount,
        **proxies,
        **grant,
    }
    households = household_frame(design, hh, columns)
    is_poor = welfare - amount / hh.size < lines[hh.region]
    tallies = block_tallies(hh, members, weight, is_poor, amount)
    return Block(households, member_frame(households["HHID"], members, pension), tallies)


def chunk_blocks(design: SurveyDesign, chunk_households: int) -> Iterator[range]:
    """Runs of consecutive block numbers holding about chunk_households households each."""
    n_blocks = max(1, math.ceil(design.take.size / PSUS_PER_BLOCK))
    per_chunk = max(1, chunk_households // (PSUS_PER_BLOCK * MEAN_PSU_TAKE))
    for first in range(0, n_blocks, per_chunk):
        yield range(first, min(first + per_chunk, n_blocks))


def regions_frame(standards: FloatArray) -> pl.DataFrame:
    """Raw region table: code, name, poverty line, price index, benefit standard, population."""
    return pl.DataFrame(
        {
            "prov_code": [spec.code for spec in REGIONS],
            "prov_name": [spec.name for spec in REGIONS],
            "povline": poverty_lines(),
            "cpi_spatial": region_array("price_index"),
            "dibao_std": standards,
            "pop_total": region_array("population_millions") * 1e6,
        }
    )


def base_age_shares(tallies: FloatArray) -> FloatArray:
    """Sample age-group shares per region (0-14, 15-64, 65+); a default where unsampled."""
    ages = tallies[:, -3:]
    totals = ages.sum(axis=1, keepdims=True)
    fallback = np.array([0.18, 0.68, 0.14])
    return np.where(totals > 0, ages / np.where(totals > 0, totals, 1.0), fallback)


def projection_frame(tallies: FloatArray) -> pl.DataFrame:
    """Population by region, year and age group, BASE_YEAR..BASE_YEAR+PROJECTION_YEARS, ageing."""
    years = np.arange(PROJECTION_YEARS + 1)
    youth = 0.35 - region_array("elderly_share")  # younger regions age faster
    elderly_rate = (0.026 + 0.04 * youth)[:, None] * (1 - 0.5 * years / PROJECTION_YEARS)
    rates = np.stack(
        [np.full_like(elderly_rate, -0.016), np.full_like(elderly_rate, -0.006), elderly_rate],
        axis=2,
    )
    growth = np.exp(np.cumsum(rates, axis=1) - rates[:, :1, :])
    base = region_array("population_millions")[:, None] * 1e6 * base_age_shares(tallies)
    population = np.round(base[:, None, :] * growth)  # region x year x age group
    n_regions = len(REGIONS)
    return pl.DataFrame(
        {
            "prov_code": np.repeat([spec.code for spec in REGIONS], years.size * 3),
            "yr": np.tile(np.repeat(BASE_YEAR + years, 3), n_regions).astype(np.int16),
            "agegrp": np.tile(AGE_GROUPS, n_regions * years.size),
            "pop": population.ravel(),
        }
    )


def old_age_dependency(projection: pl.DataFrame) -> pl.DataFrame:
    """National old-age dependency ratio (65+ / 15-64) per year of a raw projection frame."""
    return (
        projection.group_by("yr")
        .agg(
            (
                pl.col("pop").filter(pl.col("agegrp") == "65+").sum()
                / pl.col("pop").filter(pl.col("agegrp") == "15-64").sum()
            ).alias("ratio")
        )
        .sort("yr")
    )


def targeting_summary(tallies: FloatArray) -> dict[str, float]:
    """Person-weighted poverty rate, coverage, inclusion and exclusion errors of the programme."""
    persons, poor, selected, poor_selected = (float(tallies[:, i].sum()) for i in range(4))
    return {
        "poverty_rate": poor / persons,
        "coverage": selected / persons,
        "inclusion_error": (selected - poor_selected) / selected if selected else math.nan,
        "exclusion_error": (poor - poor_selected) / poor if poor else math.nan,
        "spending": float(tallies[:, 4].sum()),
        "population_households": float(tallies[:, 5].sum()),
        "population_persons": persons,
    }


def region_truth(standards: FloatArray, tallies: FloatArray) -> list[dict[str, Any]]:
    """Per-region true parameters and sample targeting figures."""
    needs = NATIONAL_FLOOR * region_array("price_index")
    rows = []
    for i, spec in enumerate(REGIONS):
        persons, poor, selected = tallies[i, 0], tallies[i, 1], tallies[i, 2]
        rows.append(
            {
                "code": spec.code,
                "name": spec.name,
                "price_index": spec.price_index,
                "poverty_line": float(poverty_lines()[i]),
                "benefit_standard": float(standards[i]),
                "needs_based_standard": float(needs[i]),
                "standard_gap": float(standards[i] / needs[i] - 1),
                "mis_set": spec.standard_bias is not None,
                "population": spec.population_millions * 1e6,
                "poverty_rate": float(poor / persons) if persons else None,
                "coverage": float(selected / persons) if persons else None,
            }
        )
    return rows


def truth_record(
    seed: int,
    rows: Mapping[str, int],
    standards: FloatArray,
    tallies: FloatArray,
    projection: pl.DataFrame,
) -> dict[str, Any]:
    """Everything an audit of the generated files should recover (truth.json)."""
    regions = region_truth(standards, tallies)
    ratios = old_age_dependency(projection)["ratio"]
    return {
        "seed": seed,
        "rows": dict(rows),
        "unit": "persons (household weight x household size) unless named otherwise",
        "currency": "LCU per year",
        "national_poverty_line": NATIONAL_POVERTY_LINE,
        "national_floor": NATIONAL_FLOOR,
        "min_payment_share_of_standard": MIN_PAYMENT_SHARE,
        "standards_too_low": [r["code"] for r in regions if r["mis_set"] and r["standard_gap"] < 0],
        "standards_too_high": [
            r["code"] for r in regions if r["mis_set"] and r["standard_gap"] > 0
        ],
        "sample": targeting_summary(tallies),
        "old_age_dependency_ratio": {"first_year": ratios[0], "last_year": ratios[-1]},
        "regions": regions,
        "parameters": {
            "psu_effect_sd": PSU_EFFECT_SD,
            "permanent_sd": PERMANENT_SD,
            "transitory_sd": TRANSITORY_SD,
            "assessment_sd": ASSESSMENT_SD,
            "assessment_bias": ASSESSMENT_BIAS,
            "take_up": TAKE_UP,
            "priority_take_up": PRIORITY_TAKE_UP,
            "capture_rate": CAPTURE_RATE,
        },
    }


SCALAR_ARRAY = re.compile(r"\[\n((?: {4}[^ {\[\n][^\n]*,\n)+)\]")


def one_line_arrays(text: str) -> str:
    """tomli_w's output with each array of scalars on one line (arrays of tables as written)."""
    # Safe: without multiline_strings, tomli_w never writes a line break inside a value.
    return SCALAR_ARRAY.sub(
        lambda match: "[" + ", ".join(item[4:] for item in match[1].split(",\n")[:-1]) + "]",
        text,
    )


def coding(true: list[Any], false: list[Any]) -> dict[str, list[Any]]:
    """A BoolCoding table."""
    return {"true": true, "false": false}


def string_labels(labels: Mapping[int, str]) -> dict[str, str]:
    """Value labels keyed by the raw code as text, as the config expects."""
    return {str(code): label for code, label in labels.items()}


def household_input(file_format: SurveyFormat) -> dict[str, Any]:
    """Config section of the household file: column map, codings, labels and proxies."""
    labels = {name: string_labels(spec[2]) for name, spec in PROXIES.items() if spec[2]}
    return {
        "path": f"households.{file_format}",
        "format": file_format,
        "columns": {
            "hh_id": "HHID",
            "region": "prov_code",
            "hh_size": "hhsize",
            "welfare": "pcexp",
            "urban": "area",
            "weight": "wt_hh",
            "strata": "strat_id",
            "psu": "ea_id",
        },
        "booleans": {"urban": coding([1, "1", "urban"], [2, "2", "rural"])},
        "value_labels": labels,
        "proxies": {
            name: {"column": column, "kind": kind} for name, (column, kind, _) in PROXIES.items()
        },
    }


def member_input(file_format: SurveyFormat) -> dict[str, Any]:
    """Config section of the member file."""
    others = [code for code in RELATION_LABELS if code != 1]
    return {
        "path": f"members.{file_format}",
        "format": file_format,
        "columns": {
            "hh_id": "HHID",
            "person_id": "PID",
            "age": "age_yrs",
            "sex": "gender",
            "is_head": "rel_head",
            "education_years": "educ_yrs",
            "disabled": "disab",
            "employed": "work",
        },
        "booleans": {
            "is_head": coding(
                [1, "1", "head"],
                [*others, *(str(c) for c in others), *(RELATION_LABELS[c] for c in others)],
            ),
            "disabled": coding([1, "1", "yes"], [2, "2", "no"]),
            "employed": coding([1, "1", "yes"], [0, "0", "no"]),
        },
        "value_labels": {"sex": string_labels(SEX_LABELS)},
    }


def table_inputs(file_format: SurveyFormat) -> dict[str, Any]:
    """Config sections of the region and projection files."""
    return {
        "regions": {
            "path": f"regions.{file_format}",
            "format": file_format,
            "columns": {
                "region": "prov_code",
                "poverty_line": "povline",
                "price_index": "cpi_spatial",
                "benefit_standard": "dibao_std",
                "population": "pop_total",
            },
        },
        "projection": {
            "path": f"projection.{file_format}",
            "format": file_format,
            "columns": {
                "year": "yr",
                "age_group": "agegrp",
                "population": "pop",
                "region": "prov_code",
            },
        },
    }


def fiscal_section(population: float) -> dict[str, Any]:
    """Fiscal defaults: GDP and revenue scaled to the population, financing, scenarios."""
    gdp = GDP_PER_CAPITA * population
    return {
        "base_year": BASE_YEAR,
        "gdp": round(gdp, -6),
        "revenue": round(0.18 * gdp, -6),
        "gdp_real_growth": 0.03,
        "real_benefit_growth": 0.01,
        "sustainability_threshold": 0.01,
        "financing": [
            {"source": "central_transfer", "rule": "share", "share": 0.6},
            {"source": "local_budget", "rule": "remainder"},
        ],
        "scenarios": [
            {"name": "baseline"},
            {"name": "faster_ageing", "elderly_growth_multiplier": 1.5},
            {"name": "frozen_standards", "real_benefit_growth": 0.0},
            {"name": "standards_catch_up", "real_benefit_growth": 0.05},
        ],
    }


DEFAULT_OUTPUT = {"warehouse": "welfare_audit.duckdb", "directory": "output"}


def audit_config(
    seed: int, file_format: SurveyFormat, population: float, output: dict[str, str]
) -> dict[str, Any]:
    """The audit configuration mapping the raw files onto the canonical schema."""
    return {
        "name": "synthetic-dibao-audit",
        "seed": seed,
        "inputs": {
            "households": household_input(file_format),
            "members": member_input(file_format),
            **table_inputs(file_format),
        },
        "welfare": {"basis": "per_capita", "concept": "consumption", "currency": "LCU"},
        "poverty_lines": [
            {
                "name": "regional",
                "method": "regional",
                "national_line": NATIONAL_POVERTY_LINE,
                "source": "synthetic: national line x regional price index (see truth.json)",
            },
            {
                "name": "relative_60_median",
                "method": "relative_median",
                "median_share": 0.6,
                "source": "60 % of the weighted median of pre-transfer welfare per person",
            },
        ],
        "programmes": [
            {
                "name": "dibao",
                "receives": "prog_recv",
                "amount": "prog_amt",
                "receipt_codes": coding([1, "1", "yes"], [0, "0", "no"]),
                "category": "social_assistance",
                "included_in_welfare": True,
                "benefit_tier_bounds": [600.0, 1800.0, 3600.0],
            },
            {
                "name": "child_grant",
                "receives": "cg_recv",
                "amount": "cg_amt",
                "receipt_codes": coding([1, "1"], [0, "0"]),
                "category": "family_allowance",
            },
            {
                "name": "social_pension",
                "receives": "pens_recv",
                "amount": "pens_amt",
                "level": "member",
                "benefit_period": "monthly",
                "receipt_codes": coding([1, "1"], [0, "0"]),
                "category": "social_pension",
            },
        ],
        "targeting": {
            "unit": "persons",
            "groups": [
                "region",
                "urban",
                "quintile",
                "quintile_post",
                "head_sex",
                "has_elderly",
                "has_disabled",
            ],
        },
        "models": {"enabled": ["ols", "logit", "hgb", "rf"], "folds": 5, "region_effects": True},
        "disclosure": {"min_cell_n": 10},
        "fiscal": fiscal_section(population),
        "output": output,
    }


def config_text(
    seed: int,
    households: int,
    file_format: SurveyFormat,
    population: float,
    output: dict[str, str] | None = None,
) -> str:
    """audit.toml contents with a header naming the generator run."""
    header = [
        f"# Synthetic survey from transforms.sample: seed {seed}, {households} households.",
        "# Raw column names differ from the canonical schema on purpose; the maps below translate",
        "# them. The generator's true parameters are in truth.json next to this file.",
        "",
    ]
    config = audit_config(seed, file_format, population, output or DEFAULT_OUTPUT)
    return "\n".join(header) + "\n" + one_line_arrays(tomli_w.dumps(config))


HOUSEHOLD_COLUMN_LABELS = {
    "HHID": "household id",
    "prov_code": "province code",
    "area": "area of residence",
    "strat_id": "sampling stratum",
    "ea_id": "enumeration area (PSU)",
    "wt_hh": "household sampling weight",
    "hhsize": "household size",
    "pcexp": "per-capita annual consumption incl. transfers (LCU)",
    "prog_recv": "household receives the programme",
    "prog_amt": "programme benefit received, annual (LCU)",
    "q_land_ha": "farm land (ha)",
    "q_livestock": "large livestock (head)",
    "cg_recv": "household receives the child grant",
    "cg_amt": "child grant received, annual (LCU)",
}
HOUSEHOLD_VALUE_LABELS = {
    "area": {1: "urban", 2: "rural"},
    "prog_recv": {1: "yes", 0: "no"},
    "cg_recv": {1: "yes", 0: "no"},
    **{column: labels for column, _, labels in PROXIES.values() if labels},
}
MEMBER_COLUMN_LABELS = {
    "HHID": "household id",
    "PID": "person line number",
    "age_yrs": "age in completed years",
    "gender": "sex",
    "rel_head": "relationship to household head",
    "educ_yrs": "completed years of schooling",
    "disab": "has a disability",
    "work": "worked in the last 12 months",
    "pens_recv": "draws the social pension",
    "pens_amt": "social pension received, monthly (LCU)",
}
MEMBER_VALUE_LABELS = {
    "gender": SEX_LABELS,
    "rel_head": RELATION_LABELS,
    "disab": {1: "yes", 2: "no"},
    "work": {1: "yes", 0: "no"},
    "pens_recv": {1: "yes", 0: "no"},
}


def generate_chunks(
    seed: int, design: SurveyDesign, chunk_households: int
) -> Iterator[tuple[pl.DataFrame, pl.DataFrame, FloatArray]]:
    """Household frame, member frame and region tallies of each chunk, in file order."""
    standards, lines = benefit_standards(seed), poverty_lines()
    for blocks in chunk_blocks(design, chunk_households):
        parts = [generate_block(seed, block, design, standards, lines) for block in blocks]
        yield (
            pl.concat([part.households for part in parts]),
            pl.concat([part.members for part in parts]),
            np.sum([part.tallies for part in parts], axis=0),
        )


# --- A second shape: a person-level income survey (no households, no region, no design) ---

INCOME_LINE_PERCENTILE = 0.2
INCOME_LOSS_SHARE = 0.03  # people reporting a loss (self-employment, farming)


def person_income_frame(persons: int, seed: int) -> pl.DataFrame:
    """A person-level income survey: one row per adult, annual income (some negative: losses),
    observable characteristics, and one cash programme. No household structure, no region,
    no weights or design columns. Columns: pid, income, age, female, schooling, owns_home,
    rooms, occupation, cash_recv, cash_amt."""
    rng = np.random.default_rng([seed, 4242])
    age = rng.integers(18, 80, persons)
    female = rng.random(persons) < 0.5
    schooling = np.clip(rng.normal(9.0, 4.0, persons).round(), 0, 20).astype(np.int64)
    occupation = rng.choice(["farm", "trade", "wage", "none"], persons, p=[0.3, 0.2, 0.35, 0.15])
    standing = (
        0.08 * schooling - 0.15 * female + 0.01 * np.minimum(age, 60) + rng.normal(0, 0.5, persons)
    )
    owns_home = rng.random(persons) < 1 / (1 + np.exp(-(standing - 0.6)))
    rooms = np.clip(np.round(1.5 + standing + rng.normal(0, 0.8, persons)), 1, 8).astype(np.int64)
    income = np.round(4000.0 * np.exp(standing + rng.normal(0.0, 0.7, persons)), 2)
    loss = rng.random(persons) < INCOME_LOSS_SHARE
    income = np.where(loss, -np.round(rng.uniform(50.0, 3000.0, persons), 2), income)
    assessed = income * np.exp(rng.normal(0.0, 0.5, persons))
    cash = (assessed < np.quantile(income, 0.25)) & (rng.random(persons) < 0.6)
    return pl.DataFrame(
        {
            "pid": [f"P{i:06d}" for i in range(1, persons + 1)],
            "income": income,
            "age": age,
            "female": female.astype(np.int8),
            "schooling": schooling,
            "owns_home": owns_home.astype(np.int8),
            "rooms": rooms,
            "occupation": occupation,
            "cash_recv": cash.astype(np.int8),
            "cash_amt": np.where(cash, 1200.0, 0.0),
        }
    )


def person_income_config(
    seed: int, persons: int, file_format: SurveyFormat, output: dict[str, str] | None = None
) -> str:
    """audit.toml of the person-level income survey: level persons, income with losses kept,
    the 20th percentile of persons as the line, one programme, no hook."""
    config = {
        "name": "synthetic-person-income-audit",
        "seed": seed,
        "inputs": {
            "households": {
                "path": f"persons.{file_format}",
                "format": file_format,
                "level": "persons",
                "columns": {"hh_id": "pid", "welfare": "income"},
                "proxies": {
                    "age": {"column": "age"},
                    "female": {"column": "female"},
                    "schooling": {"column": "schooling"},
                    "owns_home": {"column": "owns_home"},
                    "rooms": {"column": "rooms"},
                    "occupation": {"column": "occupation", "kind": "categorical"},
                },
                "derived": {"age_sq": "age * age"},
            }
        },
        "welfare": {"basis": "per_capita", "concept": "income", "currency": "LCU"},
        "poverty_lines": [
            {
                "name": "p20",
                "method": "relative_percentile",
                "percentile": INCOME_LINE_PERCENTILE,
                "source": "20th percentile of persons by income",
            }
        ],
        "programmes": [
            {
                "name": "cash_transfer",
                "receives": "cash_recv",
                "amount": "cash_amt",
                "receipt_codes": coding([1, "1"], [0, "0"]),
            }
        ],
        "targeting": {"unit": "persons", "groups": ["quintile"]},
        "models": {"enabled": ["ols", "logit"], "folds": 5},
        "output": output or DEFAULT_OUTPUT,
    }
    header = [
        f"# Synthetic person-level income survey from transforms.sample: seed {seed}, "
        f"{persons} persons.",
        "# One row per person, incomes with losses, no region and no design columns.",
        "",
    ]
    return "\n".join(header) + "\n" + one_line_arrays(tomli_w.dumps(config))
