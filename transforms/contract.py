"""The output contract (../shared/spec/outputs.md) as data: tables, columns, types, units, PII.

DuckDB DDL, ``COMMENT ON`` statements and the README data dictionary are all
generated from this one module, so they cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from transforms import catalogue
from transforms.suppression import partitions_of, suppression

SCHEMA = "audit"


@dataclass(frozen=True)
class Column:
    """One published column."""

    name: str
    sql_type: str
    description: str
    unit: str = ""
    pii: str = "none"
    suppressible: bool = False
    """Nulled in a cell that disclosure control suppresses (see :func:`publishable`)."""

    def comment(self) -> str:
        """The text stored with COMMENT ON COLUMN."""
        parts = [self.description]
        if self.unit:
            parts.append(f"Unit: {self.unit}.")
        parts.append(f"PII: {self.pii}.")
        return " ".join(parts)


@dataclass(frozen=True)
class Table:
    """One published table of schema ``audit``."""

    name: str
    grain: str
    description: str
    columns: tuple[Column, ...]
    has_latest_view: bool = True
    stored_in_files: bool = False
    """Kept outside the warehouse file, one Parquet file per run, read through a view of the
    table's name (:func:`files_view_sql`): a table that grows with households, so that
    publishing a run does not copy its history (issue #19)."""

    def column_names(self) -> list[str]:
        """Column names in contract order."""
        return [column.name for column in self.columns]


RUN_ID = Column("run_id", "VARCHAR", "Identifier of the audit run that produced the row.")
FRACTION = catalogue.FRACTION


def _rate_columns() -> tuple[Column, ...]:
    """Each targeting rate of the catalogue, with its design-based SE and 95 % CI bounds."""
    columns: list[Column] = []
    for item in catalogue.indicators_of(catalogue.TARGETING):
        name, unit = item.name, item.unit
        columns += [
            Column(name, "DOUBLE", f"{item.label}: {item.definition}", unit, suppressible=True),
            Column(
                f"{name}_se",
                "DOUBLE",
                f"Design-based standard error of {name}.",
                unit,
                suppressible=True,
            ),
            Column(
                f"{name}_ci_low",
                "DOUBLE",
                f"Lower bound of the 95 % CI of {name}.",
                unit,
                suppressible=True,
            ),
            Column(
                f"{name}_ci_high",
                "DOUBLE",
                f"Upper bound of the 95 % CI of {name}.",
                unit,
                suppressible=True,
            ),
        ]
    return tuple(columns)


PROGRAMME = Column(
    "programme",
    "VARCHAR",
    "The programme the row measures (its [[programmes]] name; 'any': receiving at least one "
    "of them). NULL for a PMT row not compared with a programme, and for a survey without "
    "programme data.",
)
POVERTY_LINE = Column(
    "poverty_line",
    "VARCHAR",
    "Name of the poverty line the row is measured against (audit.poverty_lines).",
)
POPULATION_UNIT = Column(
    "population_unit",
    "VARCHAR",
    "persons or households: what the row's shares and counts count.",
)
GROUP_COLUMNS = (
    Column("group_type", "VARCHAR", "Kind of group: all, region, urban, quintile, head_sex, …"),
    Column("group_value", "VARCHAR", "The group's value ('all' for the whole population)."),
)
N_OBS = Column("n_obs", "BIGINT", "Unweighted number of households in the cell.", "households")
SUPPRESSED = Column(
    "suppressed",
    "BOOLEAN",
    "True when disclosure control withholds the cell (why: suppression); its values are NULL.",
)
SUPPRESSION = Column(
    "suppression",
    "VARCHAR",
    "Why the cell is withheld: primary (n_obs below the disclosure threshold, "
    "disclosure.min_cell_n) or complementary (enough households, but withheld so that a "
    "primary cell cannot be found by subtracting the published cells of its group_type from "
    "their whole: the group all, or 1 for shares); NULL when published. NULL throughout in "
    "runs before complementary suppression, whose suppressed cells are all primary.",
)

TABLES: tuple[Table, ...] = (
    Table(
        "runs",
        "one row per run",
        "Every audit run, its status and provenance.",
        (
            RUN_ID,
            Column("started_at", "TIMESTAMPTZ", "When the run started."),
            Column("finished_at", "TIMESTAMPTZ", "When the run ended (NULL while running)."),
            Column("status", "VARCHAR", "running, succeeded or failed."),
            Column("config_name", "VARCHAR", "The audit's name from its configuration."),
            Column("config_path", "VARCHAR", "Path of the configuration file."),
            Column("config_sha256", "VARCHAR", "SHA-256 of the configuration file's bytes."),
            Column("code_version", "VARCHAR", "welfare-audit version and git commit."),
            Column("seed", "BIGINT", "Random seed used for folds and sampling."),
            Column("rows_read", "BIGINT", "Raw rows read over all input files.", "rows"),
            Column("rows_loaded", "BIGINT", "Rows loaded into staging tables.", "rows"),
            Column("rows_quarantined", "BIGINT", "Rows rejected to audit.quarantine.", "rows"),
            Column("error", "VARCHAR", "Error message of a failed run."),
        ),
        has_latest_view=False,
    ),
    Table(
        "input_files",
        "run × file",
        "The input files a run read, with their hashes.",
        (
            RUN_ID,
            Column("role", "VARCHAR", "households, members, regions or projection."),
            Column("path", "VARCHAR", "Absolute path of the file as read."),
            Column("sha256", "VARCHAR", "SHA-256 of the file's bytes."),
            Column("bytes", "BIGINT", "File size.", "bytes"),
            Column("rows_read", "BIGINT", "Raw data rows in the file.", "rows"),
            Column("rows_loaded", "BIGINT", "Rows that passed the row rules.", "rows"),
            Column("rows_quarantined", "BIGINT", "Rows rejected with a reason.", "rows"),
        ),
    ),
    Table(
        "quarantine",
        "rejected raw row × failed rule",
        "Raw rows that broke a row rule, with the reason. Raw values may hold identifiers.",
        (
            RUN_ID,
            Column("source_file", "VARCHAR", "Path of the file the row came from."),
            Column(
                "source_row", "BIGINT", "1-based data row number in the file (header excluded)."
            ),
            Column("column_name", "VARCHAR", "Canonical column that broke the rule."),
            Column("raw_value", "VARCHAR", "The value as read.", pii="may contain identifiers"),
            Column("reason", "VARCHAR", "The rule that failed, in words."),
        ),
    ),
    Table(
        "validation_results",
        "run × expectation",
        "Great Expectations results for every staging table, and the checks on the analysis "
        "frame (table_name 'analysis').",
        (
            RUN_ID,
            Column(
                "table_name",
                "VARCHAR",
                "Staging table validated ('analysis': the analysis frame the run builds).",
            ),
            Column("expectation", "VARCHAR", "Expectation type."),
            Column("column_name", "VARCHAR", "Column checked (NULL for table-level checks)."),
            Column("severity", "VARCHAR", "error (stops the run) or warning (recorded)."),
            Column("success", "BOOLEAN", "Whether the expectation held."),
            Column(
                "expected",
                "VARCHAR",
                "What the check requires, in words: its threshold or condition (NULL in runs "
                "before it was recorded).",
            ),
            Column("observed", "VARCHAR", "What was observed (counts, values)."),
        ),
    ),
    Table(
        "model_metrics",
        "run × model × decision rule",
        "Out-of-sample performance of each proxy-means-test model.",
        (
            RUN_ID,
            Column("model", "VARCHAR", "Model name (ols, logit, hgb, rf or a custom name)."),
            Column(
                "decision_rule",
                "VARCHAR",
                "rate:poverty_rate, rate:programme_coverage (coverage of the row's programme) "
                "or line (indicators.md).",
            ),
            PROGRAMME,
            POVERTY_LINE,
            Column("unit", "VARCHAR", "persons or households: whose shares the rates are."),
            Column(
                "sample",
                "VARCHAR",
                "out_of_fold: rates of the cross-validated scores (the published ones); "
                "in_sample: the final model's rates on the households it was fitted on, for "
                "comparison (optimistic).",
            ),
            Column(
                "n_train",
                "BIGINT",
                "Households used for training (per fold; the final fit's for in_sample).",
                "households",
            ),
            Column("auc", "DOUBLE", "Weighted ROC AUC against pre-transfer poverty (of sample)."),
            Column("coverage", "DOUBLE", "Share selected by the model.", FRACTION),
            Column("inclusion_error", "DOUBLE", "Out-of-sample inclusion error.", FRACTION),
            Column("exclusion_error", "DOUBLE", "Out-of-sample exclusion error.", FRACTION),
            Column("cgh", "DOUBLE", "Coady–Grosh–Hoddinott indicator.", "ratio"),
            Column("cv_scheme", "VARCHAR", "Cross-validation scheme (folds, grouping, seed)."),
            Column("fold_spread", "DOUBLE", "Standard deviation of exclusion error across folds."),
            Column("artifact_sha256", "VARCHAR", "SHA-256 of the saved model artifact."),
        ),
    ),
    Table(
        "targeting_errors",
        "run × method × decision rule × group",
        "Targeting accuracy of the actual programme and of each PMT model, by group.",
        (
            RUN_ID,
            Column("method", "VARCHAR", "program (actual receipt) or pmt:<model>."),
            Column(
                "decision_rule",
                "VARCHAR",
                "actual, rate:poverty_rate, rate:programme_coverage or line.",
            ),
            PROGRAMME,
            POVERTY_LINE,
            Column("unit", "VARCHAR", "persons or households: whose shares the rates are."),
            *GROUP_COLUMNS,
            N_OBS,
            Column(
                "population",
                "DOUBLE",
                "Weighted population of the cell.",
                "persons or households",
                suppressible=True,
            ),
            *_rate_columns(),
            SUPPRESSED,
            SUPPRESSION,
        ),
    ),
    Table(
        "matching_indicators",
        "run × group × indicator",
        "Resource-matching indicators: incidence, adequacy, regional standards, tiers.",
        (
            RUN_ID,
            PROGRAMME,
            POVERTY_LINE,
            POPULATION_UNIT,
            *GROUP_COLUMNS,
            Column("indicator", "VARCHAR", "Indicator name (see the methodology)."),
            Column("value", "DOUBLE", "Estimate.", suppressible=True),
            Column("se", "DOUBLE", "Design-based standard error.", suppressible=True),
            Column("ci_low", "DOUBLE", "Lower bound of the 95 % CI.", suppressible=True),
            Column("ci_high", "DOUBLE", "Upper bound of the 95 % CI.", suppressible=True),
            Column("unit", "VARCHAR", "Unit of value (from the indicator catalogue)."),
            N_OBS,
            SUPPRESSED,
            SUPPRESSION,
        ),
    ),
    Table(
        "fiscal_indicators",
        "run × scenario × year × indicator",
        "Spending, leakage, effectiveness and the ageing projection.",
        (
            RUN_ID,
            PROGRAMME,
            POVERTY_LINE,
            POPULATION_UNIT,
            Column("scenario", "VARCHAR", "current (survey year) or a projection scenario."),
            Column("year", "INTEGER", "Year the value refers to."),
            Column("indicator", "VARCHAR", "Indicator name (see the methodology)."),
            Column("value", "DOUBLE", "Value."),
            Column(
                "unit",
                "VARCHAR",
                "Unit of value (currency/year, fraction, ratio), from the indicator catalogue.",
            ),
        ),
    ),
    Table(
        "alerts",
        "run × indicator × group that moved too far",
        "Headline indicators that changed beyond the configured thresholds since the previous "
        "successful run of the same audit.",
        (
            RUN_ID,
            Column("previous_run_id", "VARCHAR", "The run compared with."),
            Column("method", "VARCHAR", "program or pmt:<model>."),
            Column("decision_rule", "VARCHAR", "actual, rate:… or line."),
            PROGRAMME,
            POVERTY_LINE,
            POPULATION_UNIT,
            *GROUP_COLUMNS,
            Column("indicator", "VARCHAR", "The indicator that moved."),
            Column("previous", "DOUBLE", "Its value in the previous run."),
            Column("current", "DOUBLE", "Its value in this run."),
            Column("change", "DOUBLE", "current − previous (fraction points)."),
            Column("threshold", "VARCHAR", "The rule that fired."),
            Column("message", "VARCHAR", "The alert in words."),
        ),
    ),
    Table(
        "run_notes",
        "run × note",
        "What a run skipped or assumed, and why (missing optional inputs, fallbacks).",
        (
            RUN_ID,
            Column("stage", "VARCHAR", "The stage that wrote the note (matching, fiscal, …)."),
            Column("note", "VARCHAR", "The note in words."),
        ),
    ),
    Table(
        "targeting_curves",
        "run × method × coverage point",
        "Targeting curves: errors of each method at coverages from 0 to 1 (out of sample).",
        (
            RUN_ID,
            Column("method", "VARCHAR", "pmt:<model>, or program for its single actual point."),
            PROGRAMME,
            POVERTY_LINE,
            Column("unit", "VARCHAR", "persons or households: whose shares the rates are."),
            Column("coverage", "DOUBLE", "Share of the unit selected.", FRACTION),
            Column("exclusion_error", "DOUBLE", "Share of the poor not selected.", FRACTION),
            Column("inclusion_error", "DOUBLE", "Share of the selected not poor.", FRACTION),
            Column("true_positive_rate", "DOUBLE", "Share of the poor selected (ROC y).", FRACTION),
            Column(
                "false_positive_rate", "DOUBLE", "Share of the non-poor selected (ROC x).", FRACTION
            ),
        ),
    ),
    Table(
        "household_scores",
        "run × household × model",
        "Out-of-fold PMT scores per household, keyed by pseudonym (only when allowed).",
        (
            RUN_ID,
            Column("hh_key", "VARCHAR", "Keyed HMAC-SHA256 pseudonym of hh_id.", pii="pseudonym"),
            Column("region", "VARCHAR", "Region of the household."),
            Column("model", "VARCHAR", "Model name."),
            POVERTY_LINE,
            Column("p_poor", "DOUBLE", "Out-of-fold probability of being poor.", FRACTION),
            Column("predicted_eligible", "BOOLEAN", "Selected under the rate rule."),
            Column("is_poor", "BOOLEAN", "Poor before the transfer, against poverty_line."),
            Column("receives_benefit", "BOOLEAN", "Receives a programme ('any' when several)."),
        ),
        stored_in_files=True,
    ),
    Table(
        "pmt_folds",
        "run × fold",
        "The cross-validation folds the PMT models share: how many households, and how many "
        "poor ones, each holds (folds are whole PSUs, balanced by region and by the poor).",
        (
            RUN_ID,
            POVERTY_LINE,
            Column("fold", "INTEGER", "Fold number (0 .. models.folds − 1)."),
            Column("households", "BIGINT", "Households whose test fold it is.", "households"),
            Column("poor_households", "BIGINT", "Poor households among them.", "households"),
            Column("psus", "BIGINT", "PSUs in the fold.", "PSUs"),
            Column(
                "poverty_rate",
                "DOUBLE",
                "Weighted poverty rate within the fold (targeting.unit).",
                FRACTION,
            ),
        ),
    ),
    Table(
        "poverty_lines",
        "run × line × region",
        "The value of every poverty line the run measured against, per region where it varies.",
        (
            RUN_ID,
            POVERTY_LINE,
            Column(
                "method",
                "VARCHAR",
                "national, regional, national_price_index, relative_percentile, "
                "relative_median, relative_mean or international.",
            ),
            Column(
                "unit",
                "VARCHAR",
                "For relative lines: the percentile, median or mean is over persons or "
                "households; NULL otherwise.",
            ),
            Column("region", "VARCHAR", "The region; NULL where the line is national."),
            Column("value", "DOUBLE", "The line per person per year.", "currency/person/year"),
            Column("currency", "VARCHAR", "The currency (welfare.currency)."),
            Column("source", "VARCHAR", "Where the line comes from, as configured."),
        ),
    ),
    Table(
        "programme_overlap",
        "run × combination of programmes",
        "Who receives which combination of programmes (ADePT SP overlap): one row per "
        "combination received, 'none' for no programme.",
        (
            RUN_ID,
            Column(
                "programmes",
                "VARCHAR",
                "The programmes received, names joined by ' + ' in configuration order; "
                "'none' for none of them.",
            ),
            POPULATION_UNIT,
            Column(
                "population",
                "DOUBLE",
                "Weighted population receiving exactly this combination.",
                "persons or households",
                suppressible=True,
            ),
            Column(
                "share",
                "DOUBLE",
                "Share of the population receiving exactly this combination.",
                FRACTION,
                suppressible=True,
            ),
            Column(
                "se", "DOUBLE", "Design-based standard error of share.", FRACTION, suppressible=True
            ),
            Column(
                "ci_low",
                "DOUBLE",
                "Lower bound of the 95 % CI of share.",
                FRACTION,
                suppressible=True,
            ),
            Column(
                "ci_high",
                "DOUBLE",
                "Upper bound of the 95 % CI of share.",
                FRACTION,
                suppressible=True,
            ),
            N_OBS,
            SUPPRESSED,
            SUPPRESSION,
        ),
    ),
)


def table(name: str) -> Table:
    """Look up a contract table by name."""
    for candidate in TABLES:
        if candidate.name == name:
            return candidate
    raise KeyError(name)


CHANGE_DIMENSIONS: tuple[Column, ...] = (
    Column(
        "table_name",
        "VARCHAR",
        f"The table that publishes the number ({SCHEMA}.<table_name>).",
    ),
    Column(
        "method",
        "VARCHAR",
        "program or pmt:<model> (targeting_errors; model_metrics, whose model is prefixed "
        "with 'pmt:'); NULL for the other tables.",
    ),
    Column("decision_rule", "VARCHAR", "actual, rate:… or line; NULL where it does not apply."),
    Column("sample", "VARCHAR", "out_of_fold or in_sample (model_metrics); NULL for the others."),
    PROGRAMME,
    POVERTY_LINE,
    POPULATION_UNIT,
    Column(
        "group_type",
        "VARCHAR",
        "Kind of group: all, region, urban, quintile, …; 'programmes' for "
        "programme_overlap, whose group_value is the combination received.",
    ),
    Column("group_value", "VARCHAR", "The group's value ('all' for the whole population)."),
    Column("scenario", "VARCHAR", "current or a projection scenario (fiscal_indicators)."),
    Column("year", "INTEGER", "Year the value refers to (fiscal_indicators)."),
    Column(
        "indicator",
        "VARCHAR",
        "The indicator: the indicator column of a long table, the column's name for a wide "
        "one (targeting_errors: coverage, exclusion_error, …).",
    ),
)
"""What identifies one published number across runs in audit.changes (with ``indicator``)."""


@dataclass(frozen=True)
class Compared:
    """A table whose numbers audit.changes compares between runs."""

    table: str
    dimensions: dict[str, str]
    """Dimension of audit.changes -> the table's column or an SQL expression filling it."""
    measures: tuple[str, ...] = ()
    """A wide table's numeric columns, one row each; empty for a long table (its indicator,
    value and unit columns)."""


TARGETING_MEASURES = ("population", *[i.name for i in catalogue.indicators_of(catalogue.TARGETING)])
COMPARED: tuple[Compared, ...] = (
    Compared(
        "targeting_errors",
        {
            "method": "method",
            "decision_rule": "decision_rule",
            "programme": "programme",
            "poverty_line": "poverty_line",
            "population_unit": "unit",
            "group_type": "group_type",
            "group_value": "group_value",
        },
        TARGETING_MEASURES,
    ),
    Compared(
        "model_metrics",
        {
            "method": "'pmt:' || model",
            "decision_rule": "decision_rule",
            "sample": "sample",
            "programme": "programme",
            "poverty_line": "poverty_line",
            "population_unit": "unit",
        },
        ("auc", "coverage", "inclusion_error", "exclusion_error", "cgh", "fold_spread"),
    ),
    Compared(
        "matching_indicators",
        {
            "programme": "programme",
            "poverty_line": "poverty_line",
            "population_unit": "population_unit",
            "group_type": "group_type",
            "group_value": "group_value",
        },
    ),
    Compared(
        "fiscal_indicators",
        {
            "programme": "programme",
            "poverty_line": "poverty_line",
            "population_unit": "population_unit",
            "scenario": "scenario",
            "year": "year",
        },
    ),
    Compared(
        "programme_overlap",
        {
            "population_unit": "population_unit",
            "group_type": "'programmes'",
            "group_value": "programmes",
        },
        ("population", "share"),
    ),
)

CHANGES = Table(
    "changes",
    "compared table × dimensions × indicator",
    "Every published number of the last successful run (the run the latest_* views show) "
    "beside its value in the previous successful run of the same audit (same config_name): "
    "rates, counts and indicators of "
    + ", ".join(source.table for source in COMPARED)
    + ". A number published in only one of the two runs has the other side NULL.",
    (
        Column(
            "run_id",
            "VARCHAR",
            "The run compared: the last successful run, as in the latest_* views.",
        ),
        Column(
            "previous_run_id",
            "VARCHAR",
            "The successful run of the same audit that finished before it; NULL when there "
            "is none (then previous is NULL throughout).",
        ),
        *CHANGE_DIMENSIONS,
        Column("unit", "VARCHAR", "Unit of previous, current and change."),
        Column(
            "previous",
            "DOUBLE",
            "The number in the previous run (NULL: not published then, or suppressed).",
        ),
        Column(
            "current",
            "DOUBLE",
            "The number in the last run (NULL: no longer published, or suppressed).",
        ),
        Column(
            "change",
            "DOUBLE",
            "current − previous, in the unit (fraction points for fractions).",
        ),
    ),
    has_latest_view=False,
)


def publishable(
    table_name: str, frame: pl.DataFrame, *, run_id: str, min_cell_n: int | None = None
) -> pl.DataFrame:
    """A producer's rows as the contract publishes them: the one step every table ends in.

    - ``unit`` joined from the indicator catalogue (tables with ``indicator`` and ``unit``);
    - disclosure control (:mod:`transforms.suppression`): a cell with fewer than
      ``min_cell_n`` unweighted households (``n_obs``) is withheld (primary), and so is the
      smallest other part of its group_type where it alone would be found by subtraction
      from their whole (complementary): its suppressible columns nulled, ``suppressed`` true,
      ``suppression`` saying why; a cell without ``n_obs`` (values from a table, not the
      sample) is never suppressed. The frame must hold whole partitions (every group of a
      group_type with its group ``all``), as every producer's does;
    - ``run_id`` first, then the contract's columns in order; a column the contract lacks, or
      one it needs and the frame lacks, is an error.
    """
    spec = table(table_name)
    names = spec.column_names()
    if "indicator" in names and "unit" in names:
        frame = catalogue.with_units(frame, table_name)
    if "suppressed" in names:
        if min_cell_n is None:
            raise ValueError(f"{table_name}: publishing needs min_cell_n (disclosure control)")
        shares = [i.name for i in catalogue.indicators_of(table_name) if i.sums_to_one]
        why = suppression(frame, partitions_of(table_name, shares), min_cell_n=min_cell_n)
        hidden = [c.name for c in spec.columns if c.suppressible and c.name in frame.columns]
        withheld = why.is_not_null()
        frame = frame.with_columns(
            *[pl.when(withheld).then(None).otherwise(pl.col(c)).alias(c) for c in hidden],
            withheld.alias("suppressed"),
            why,
        )
    frame = frame.with_columns(pl.lit(run_id, pl.String).alias("run_id"))
    unknown = sorted(set(frame.columns) - set(names))
    missing = [c for c in names if c not in frame.columns]
    if unknown or missing:
        raise ValueError(
            f"{SCHEMA}.{table_name}: columns not in the contract {unknown}, missing {missing}"
        )
    return frame.select(names)


def quote_identifier(name: str) -> str:
    """Quote a SQL identifier so any text is treated as a name, never as SQL."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """Quote a SQL string literal (for COMMENT ON, which takes no parameters)."""
    return "'" + text.replace("'", "''") + "'"


def create_table_sql(spec: Table) -> str:
    """CREATE TABLE IF NOT EXISTS for one contract table."""
    body = ",\n    ".join(f"{quote_identifier(c.name)} {c.sql_type}" for c in spec.columns)
    return f"CREATE TABLE IF NOT EXISTS {SCHEMA}.{spec.name} (\n    {body}\n)"


def comment_sql(spec: Table, *, kind: str = "TABLE") -> list[str]:
    """COMMENT ON statements for a table (or, with kind VIEW, a view) and each of its columns."""
    storage = f" {storage_note(spec)}" if spec.stored_in_files else ""
    statements = [
        f"COMMENT ON {kind} {SCHEMA}.{spec.name} IS "
        + quote_literal(f"{spec.description} Grain: {spec.grain}.{storage}")
    ]
    for column in spec.columns:
        statements.append(
            f"COMMENT ON COLUMN {SCHEMA}.{spec.name}.{quote_identifier(column.name)} IS "
            + quote_literal(column.comment())
        )
    return statements


FILES_SUFFIX = ".files"
"""The folder beside the warehouse file that holds the tables stored in files:
<warehouse>.files/<table>/<run_id>.parquet."""


def storage_note(spec: Table) -> str:
    """Where a table stored in files lives, for its comment and the data dictionary."""
    return (
        "Stored outside the warehouse file: one Parquet file per run in the folder "
        f"`<warehouse>{FILES_SUFFIX}/{spec.name}/` beside it, read through this view by "
        "absolute path, so the folder must stay where the audit wrote it."
    )


def files_view_sql(spec: Table, paths: list[str]) -> str:
    """The view of a table stored in files over the given Parquet files (absolute paths, one
    per run), in the contract's columns and types; an empty view when there are none."""
    if not paths:
        nulls = ",\n    ".join(
            f"CAST(NULL AS {c.sql_type}) AS {quote_identifier(c.name)}" for c in spec.columns
        )
        return (
            f"CREATE OR REPLACE VIEW {SCHEMA}.{spec.name} AS\n"
            f"-- no run has published {spec.name} yet\n"
            f"SELECT\n    {nulls}\nWHERE false"
        )
    columns = ",\n    ".join(
        f"CAST({quote_identifier(c.name)} AS {c.sql_type}) AS {quote_identifier(c.name)}"
        for c in spec.columns
    )
    files = ",\n    ".join(quote_literal(path) for path in paths)
    return f"""CREATE OR REPLACE VIEW {SCHEMA}.{spec.name} AS
-- one Parquet file per run that published it, by absolute path: a relative path in a view
-- resolves against the reader's working directory, not the warehouse file's folder
SELECT
    {columns}
FROM read_parquet([
    {files}
], union_by_name = true)"""


def latest_view(spec: Table) -> Table:
    """The view latest_<table> described as a table: the table's columns and comments."""
    return Table(
        f"latest_{spec.name}",
        spec.grain,
        f"The rows of {SCHEMA}.{spec.name} written by the last successful run. " + spec.description,
        spec.columns,
        has_latest_view=False,
    )


def latest_view_sql(spec: Table) -> str:
    """A view of the table restricted to the last successful run."""
    return f"""CREATE OR REPLACE VIEW {SCHEMA}.latest_{spec.name} AS
-- rows of the most recent run whose status is 'succeeded'
SELECT t.*
FROM {SCHEMA}.{spec.name} AS t
WHERE t.run_id = (
    SELECT r.run_id
    FROM {SCHEMA}.runs AS r
    WHERE r.status = 'succeeded'
    ORDER BY r.finished_at DESC
    LIMIT 1
)"""


def _numbers_sql(source: Compared) -> str:
    """The CTE of audit.changes that lists one table's numbers of the two runs compared, long:
    one row per dimensions × indicator, in the columns of CHANGE_DIMENSIONS."""
    spec = table(source.table)
    select = ["run_id", f"{quote_literal(source.table)} AS table_name"]
    for column in CHANGE_DIMENSIONS[1:-1]:  # between table_name and indicator
        expression = source.dimensions.get(column.name, f"CAST(NULL AS {column.sql_type})")
        select.append(expression if expression == column.name else f"{expression} AS {column.name}")
    select += ["indicator", "value"]
    if source.measures:
        population = source.dimensions["population_unit"]
        units = [
            f"WHEN {quote_literal(c.name)} THEN "
            + (population if c.unit == "persons or households" else quote_literal(c.unit))
            for c in spec.columns
            if c.name in source.measures and c.unit
        ]
        select.append("CASE indicator\n            " + "\n            ".join(units))
        select[-1] += "\n        END AS unit"
        measures = ",\n        ".join(source.measures)
        origin = (
            f"FROM {SCHEMA}.{spec.name}\n"
            "    -- each numeric column becomes a row, its name the indicator; NULLs (suppressed\n"
            "    -- cells) are kept, so a number that becomes suppressed shows as a change\n"
            f"    UNPIVOT INCLUDE NULLS (value FOR indicator IN (\n        {measures}\n    ))"
        )
    else:
        select.append("unit")
        origin = f"FROM {SCHEMA}.{spec.name}  -- already one row per indicator"
    columns = ",\n        ".join(select)
    return (
        f"{spec.name}_numbers AS (\n"
        f"    SELECT\n        {columns}\n"
        f"    {origin}\n"
        "    WHERE run_id IN (SELECT run_id FROM compared_runs)\n"
        ")"
    )


def changes_view_sql() -> str:
    """The view audit.changes: the last successful run's numbers against the previous
    successful run of the same audit, one row per number (see CHANGES)."""
    numbers = "\n    UNION ALL\n".join(
        f"    SELECT * FROM {source.table}_numbers" for source in COMPARED
    )
    names = [column.name for column in CHANGE_DIMENSIONS]
    keys = "\n".join(
        f"    AND c.{name} IS NOT DISTINCT FROM p.{name}"  # NULL where a table lacks it
        for name in names
        if name not in ("table_name", "indicator")
    )
    coalesced = "\n".join(f"    coalesce(c.{name}, p.{name}) AS {name}," for name in names)
    sources = ",\n\n".join(_numbers_sql(source) for source in COMPARED)
    return f"""CREATE OR REPLACE VIEW {SCHEMA}.changes AS
WITH latest AS (
    -- the last successful run: the run the latest_* views show
    SELECT run_id, config_name, finished_at
    FROM {SCHEMA}.runs
    WHERE status = 'succeeded'
    ORDER BY finished_at DESC
    LIMIT 1
),

previous AS (
    -- the successful run of the same audit (config_name) that finished before it
    SELECT r.run_id
    FROM {SCHEMA}.runs AS r
    JOIN latest AS l
        ON r.config_name = l.config_name
        AND r.finished_at < l.finished_at
    WHERE r.status = 'succeeded'
    ORDER BY r.finished_at DESC
    LIMIT 1
),

compared_runs AS (
    SELECT run_id FROM latest
    UNION ALL
    SELECT run_id FROM previous
),

{sources},

numbers AS (
{numbers}
),

current_numbers AS (
    SELECT * FROM numbers WHERE run_id = (SELECT run_id FROM latest)
),

previous_numbers AS (
    SELECT * FROM numbers WHERE run_id = (SELECT run_id FROM previous)
)

SELECT
    (SELECT run_id FROM latest) AS run_id,
    (SELECT run_id FROM previous) AS previous_run_id,
{coalesced}
    coalesce(c.unit, p.unit) AS unit,
    p.value AS previous,
    c.value AS current,
    c.value - p.value AS change  -- in the unit: fraction points for fractions
FROM current_numbers AS c
-- full join: a number published in only one of the two runs keeps its row
FULL JOIN previous_numbers AS p
    ON c.table_name = p.table_name
    AND c.indicator = p.indicator
{keys}"""


def views() -> list[tuple[Table, str]]:
    """Every published view, described as a table, with its CREATE statement."""
    latest = [(latest_view(spec), latest_view_sql(spec)) for spec in TABLES if spec.has_latest_view]
    return [*latest, (CHANGES, changes_view_sql())]


def data_dictionary_markdown() -> str:
    """The data dictionary as Markdown, one section per table."""
    lines = [
        "# Data dictionary (schema `audit`)",
        "",
        "Generated from `transforms/contract.py` (`make docs`). Worked SQL examples for "
        "analysts, each executed by a test against a fresh run: "
        "[`analyst-queries.md`](analyst-queries.md); definitions and sources: "
        "[`methodology.md`](methodology.md).",
        "",
    ]
    for spec in TABLES:
        lines += _dictionary_section(spec, "##")
    latest = ", ".join(f"`latest_{spec.name}`" for spec in TABLES if spec.has_latest_view)
    lines += [
        "## Views",
        "",
        f"`{SCHEMA}.latest_<table>` ({latest}): the rows of the table written by the last "
        "successful run, with the table's columns and comments.",
        "",
        *_dictionary_section(CHANGES, "###"),
    ]
    return "\n".join(lines + indicator_catalogue_lines())


def _dictionary_section(spec: Table, heading: str) -> list[str]:
    """A table's (or view's) section of the data dictionary: description and columns."""
    storage = f" {storage_note(spec)}" if spec.stored_in_files else ""
    lines = [
        f"{heading} `{SCHEMA}.{spec.name}`",
        "",
        f"{spec.description} Grain: {spec.grain}.{storage}",
        "",
    ]
    lines += ["| column | type | unit | PII | description |", "|---|---|---|---|---|"]
    for c in spec.columns:
        lines.append(f"| `{c.name}` | {c.sql_type} | {c.unit} | {c.pii} | {c.description} |")
    return [*lines, ""]


def _markdown_cell(text: str) -> str:
    """Text safe inside a Markdown table cell: pipes and angle brackets escaped."""
    return text.replace("|", "\\|").replace("<", "\\<")


def indicator_catalogue_lines() -> list[str]:
    """The '## Indicators' section of the data dictionary: one table per published table."""
    lines = [
        "## Indicators",
        "",
        "Values of the `indicator` column of the long tables, and the rates of "
        f"`{SCHEMA}.targeting_errors`. A name ending in `:<…>` stands for every published name "
        "with that prefix (`budget_pmt:<model>` covers `budget_pmt:logit`, …). Notation "
        "(indicators.md): household weight w, size n, persons ω = w·n, per-capita welfare y "
        "after and y⁰ before the transfer, household benefit T per year, beneficiary B, "
        "per-capita line z, poor P = 1[y⁰ < z], per-person gap g = max(z − y⁰, 0), analysis "
        "weight d = ω (targeting.unit persons, the default) or w (households).",
        "",
    ]
    for spec in TABLES:
        items = catalogue.indicators_of(spec.name)
        if not items:
            continue
        lines += [f"### `{SCHEMA}.{spec.name}`", ""]
        lines += [
            "| name | label | unit | shown as | definition | source |",
            "|---|---|---|---|---|---|",
        ]
        for item in items:
            cells = [item.label, item.unit, item.display, item.definition, item.source]
            lines.append(f"| `{item.name}` | " + " | ".join(map(_markdown_cell, cells)) + " |")
        lines.append("")
    return lines
