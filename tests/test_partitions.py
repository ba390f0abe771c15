"""The published tables do not depend on how the analysis frame is laid out: the indicator
functions give the same bits whether the households come in 1, 2 or 3 chunks, or with their
PSUs in another order (as partitions by PSU would bring them back)."""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import polars as pl
import pytest

from benchmarks.analysis import build
from transforms import tables
from transforms.config import AuditConfig, load_config
from transforms.pmt_evaluation import ModelScores
from transforms.sample.files import write_synthetic_survey


class Survey(NamedTuple):
    """A generated survey's analysis frame, reference tables and configuration."""

    config: AuditConfig
    frame: pl.DataFrame
    regions: pl.DataFrame
    projection: pl.DataFrame


@pytest.fixture(scope="module")
def survey(tmp_path_factory: pytest.TempPathFactory) -> Survey:
    """1,500 generated households, ingested and prepared as the audit flow does (no Prefect)."""
    out = tmp_path_factory.mktemp("partitions")
    write_synthetic_survey(out, households=1500, seed=12, file_format="parquet")
    config = load_config(out / "audit.toml")
    build(config, out)
    return Survey(
        config,
        pl.read_parquet(out / "analysis.parquet"),
        pl.read_parquet(out / "regions.parquet"),
        pl.read_parquet(out / "projection.parquet"),
    )


def stand_in_scores(frame: pl.DataFrame, models: list[str]) -> list[ModelScores]:
    """A model's out-of-fold scores per household, fixed by the household (not its row):
    distinct scores, so no rule meets a tie, and three folds by PSU."""
    key = frame["hh_id"].hash(seed=1).to_numpy()
    psu = frame["psu"].cast(pl.String).hash(seed=2).to_numpy()
    return [
        ModelScores(
            model=name,
            p_poor=((key >> np.uint64(i + 11)) % np.uint64(1_000_003)).astype(float) / 1_000_003,
            fold=(psu % np.uint64(3)).astype(np.int64),
            auc=0.8,
            n_train=frame.height,
            cv_scheme="stand-in",
            artifact_sha256="",
        )
        for i, name in enumerate(models)
    ]


def published_text(survey: Survey, frame: pl.DataFrame) -> dict[str, str]:
    """Every table the indicator stage publishes, as CSV text with every float written in full
    (shortest round-trip form: equal text is equal bits), rows in key order."""
    config = survey.config
    measured = tables.measures(config.programmes, config.poverty_lines)
    line, on_line = tables.models_line(config.programmes, config.poverty_lines, config.model_line)
    scores = stand_in_scores(frame, list(config.models.enabled))
    common = {"disclosure": config.disclosure, "survey": config.design, "run_id": "run"}
    published = [
        tables.programme_targeting(frame, measured, targeting=config.targeting, **common),
        tables.matching(
            frame,
            survey.regions,
            measured,
            programmes=config.programmes,
            targeting=config.targeting,
            **common,
        ),
        tables.fiscal(
            frame,
            survey.projection,
            measured,
            programmes=config.programmes,
            scores=scores,
            settings=config.fiscal,
            unit=config.targeting.unit,
            run_id="run",
        ),
        tables.programme_overlap(frame, config.programmes, targeting=config.targeting, **common),
        *[
            tables.model_targeting(
                frame,
                s,
                line=line,
                measured=on_line,
                targeting=config.targeting,
                models=config.models,
                **common,
            )
            for s in scores
        ],
    ]
    texts: dict[str, str] = {}
    for result in published:
        for name, table in result.tables.items():
            rows = table.sort(table.columns, nulls_last=True)
            texts[f"{name}:{len(texts)}"] = rows.write_csv()
    folds = tables.pmt_folds(
        frame, scores[0].fold, line=line, unit=config.targeting.unit, run_id="run"
    )
    texts["pmt_folds"] = folds.write_csv()
    return texts


def in_chunks(frame: pl.DataFrame, chunks: int) -> pl.DataFrame:
    """The same rows in ``chunks`` memory chunks, as a frame read or combined in pieces."""
    size = -(-frame.height // chunks)
    return pl.concat([frame.slice(i * size, size) for i in range(chunks)], rechunk=False)


def psus_reordered(frame: pl.DataFrame) -> pl.DataFrame:
    """The rows grouped by PSU, PSUs in reverse key order (each PSU's rows in file order)."""
    order = frame.select(pl.col("psu").cast(pl.String).rank("dense", descending=True))
    return (
        frame.with_columns(order.to_series().alias("__psu_rank"))
        .sort("__psu_rank", maintain_order=True)
        .drop("__psu_rank")
    )


@pytest.fixture(scope="module")
def whole(survey: Survey) -> dict[str, str]:
    """The tables of the frame as read: one chunk, households in file order."""
    assert survey.frame.n_chunks() == 1
    return published_text(survey, survey.frame)


@pytest.mark.parametrize(
    "layout",
    [
        pytest.param(lambda f: in_chunks(f, 2), id="2 chunks"),
        pytest.param(lambda f: in_chunks(f, 3), id="3 chunks"),
        pytest.param(psus_reordered, id="PSUs reordered"),
    ],
)
def test_every_table_is_bit_identical_whatever_the_layout(
    survey: Survey, whole: dict[str, str], layout: Callable[[pl.DataFrame], pl.DataFrame]
) -> None:
    other = published_text(survey, layout(survey.frame))
    assert whole.keys() == other.keys()
    differing = [name for name in whole if whole[name] != other[name]]
    assert not differing, differing
    assert len(whole) >= 8 and all(text.count("\n") > 1 for text in whole.values())


def test_the_indicator_stage_leaves_no_data_to_the_cyclic_collector(survey: Survey) -> None:
    """Every table's working data is freed when its function returns: none of it sits in a
    reference cycle, which only Python's cyclic collector frees, at a time of its choosing
    (a recursive closure in the estimator once kept each call's PSU totals alive: at 10M
    households, gigabytes of garbage across the stage)."""
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)  # what the collector finds is kept in gc.garbage
    gc.disable()
    try:
        published_text(survey, survey.frame)
        gc.collect()
        held = [
            type(o).__name__
            for o in gc.garbage
            if isinstance(o, np.ndarray | pl.DataFrame | pl.Series | pl.LazyFrame)
        ]
    finally:
        gc.set_debug(0)
        gc.enable()
        gc.garbage.clear()
    assert held == []


def test_every_table_is_bit_identical_whatever_the_selections_per_pass(
    survey: Survey, whole: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large survey's model targeting estimates its selections a few at a time (memory);
    the numbers are those of one pass over them all, as the sample's are made."""
    assert tables.selections_per_pass(survey.frame.height) >= 6  # 'whole' took one pass
    monkeypatch.setattr(tables, "PASS_BYTES", 1)
    assert tables.selections_per_pass(survey.frame.height) == 1
    one_at_a_time = published_text(survey, survey.frame)
    assert one_at_a_time == whole


def stage_text(survey: Survey, stage: str, frame: pl.DataFrame) -> dict[str, str]:
    """The fiscal or matching stage's tables from ``frame``, as CSV text by table."""
    config = survey.config
    measured = tables.measures(config.programmes, config.poverty_lines)
    if stage == "fiscal":
        published = tables.fiscal(
            frame,
            survey.projection,
            measured,
            programmes=config.programmes,
            scores=stand_in_scores(survey.frame, list(config.models.enabled)),
            settings=config.fiscal,
            unit=config.targeting.unit,
            run_id="run",
        )
    else:
        published = tables.matching(
            frame,
            survey.regions,
            measured,
            programmes=config.programmes,
            targeting=config.targeting,
            disclosure=config.disclosure,
            survey=config.design,
            run_id="run",
        )
    return {name: table.write_csv() for name, table in published.tables.items()}


@pytest.mark.parametrize(
    ("stage", "columns_of"),
    [("fiscal", tables.fiscal_columns), ("matching", tables.matching_columns)],
)
def test_stage_tables_are_the_same_without_the_proxies(
    survey: Survey, stage: str, columns_of: Callable[..., list[str]]
) -> None:
    """The fiscal and matching tasks read the analysis file without the model proxies (a
    third of it; fiscal without the identifiers and design too): their tables are those of
    the whole frame."""
    config = survey.config
    columns = columns_of(survey.frame.columns, config.inputs.households, config.targeting)
    assert set(config.inputs.households.proxies).isdisjoint(columns)
    whole = stage_text(survey, stage, survey.frame)
    assert whole == stage_text(survey, stage, survey.frame.select(columns))
    assert all(text.count("\n") > 10 for text in whole.values())


def test_matching_keeps_a_proxy_a_declared_indicator_reads(survey: Survey) -> None:
    """A proxy that a declared indicator reads (here has_elderly, were it a proxy and not a
    breakdown group) stays in the columns the matching task reads."""
    config = survey.config
    households = config.inputs.households
    as_proxy = households.model_copy(update={"proxies": [*households.proxies, "has_elderly"]})
    ungrouped = config.targeting.model_copy(
        update={"groups": [g for g in config.targeting.groups if g != "has_elderly"]}
    )
    assert "has_elderly" not in tables.targeting_columns(survey.frame.columns, as_proxy, ungrouped)
    assert "has_elderly" in tables.matching_columns(survey.frame.columns, as_proxy, ungrouped)


def test_targeting_tables_are_the_same_without_the_ids_and_psu_labels(survey: Survey) -> None:
    """The programme and model targeting tasks read neither hh_id nor the PSU labels (the
    estimator groups the PSUs' codes): their tables are those of the whole frame."""
    config = survey.config
    households, targeting = config.inputs.households, config.targeting
    columns = tables.estimate_columns(survey.frame.columns, households, targeting)
    assert {"hh_id", "psu"}.isdisjoint(columns) and "__psu_code" in columns
    line, on_line = tables.models_line(config.programmes, config.poverty_lines, config.model_line)
    (scores,) = stand_in_scores(survey.frame, ["ols"])
    common = {"disclosure": config.disclosure, "survey": config.design, "run_id": "run"}

    def targeting_text(frame: pl.DataFrame) -> list[str]:
        measured = tables.measures(config.programmes, config.poverty_lines)
        published = [
            tables.programme_targeting(frame, measured, targeting=targeting, **common),
            tables.model_targeting(
                frame,
                scores,
                line=line,
                measured=on_line,
                targeting=targeting,
                models=config.models,
                **common,
            ),
        ]
        return [table.write_csv() for result in published for table in result.tables.values()]

    whole = targeting_text(survey.frame)
    assert whole == targeting_text(survey.frame.select(columns))
    assert all(text.count("\n") > 1 for text in whole) and sum(map(len, whole)) > 10_000
