"""The `welfare-audit` command line: run, validate, generate."""

from __future__ import annotations

import atexit
import functools
import logging
import os
import sys
import threading
from collections.abc import Callable
from contextlib import ExitStack
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn, ParamSpec, TypeVar, cast

import click
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from flows.progress_view import showing_progress
from flows.runners import RunnerKind
from flows.watchdog import start_watchdog
from transforms.io.export import ExportFormat

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_CONFIG = REPO_ROOT / "data" / "sample" / "audit.toml"
QUIET_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "GX_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    "DASK_LOGGING__DISTRIBUTED": "warning",
}

P = ParamSpec("P")
R = TypeVar("R")

app = typer.Typer(
    name="welfare-audit",
    help="Audit how precisely a social-assistance programme reaches the people it is meant for.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
LOG_WIDTH = 240
"""Line width without a terminal (cron, CI, pipes): rich's 80 columns cut names and wrapped
tables; a log file can take longer lines. A terminal keeps its own width."""
console = Console(stderr=False, width=None if sys.stdout.isatty() else LOG_WIDTH)
errors = Console(stderr=True, width=None if sys.stderr.isatty() else LOG_WIDTH)


class SurveyShape(StrEnum):
    """Survey shapes the generator writes."""

    households = "households"
    person_income = "person-income"


class FileFormat(StrEnum):
    """Formats the generator writes."""

    parquet = "parquet"
    csv = "csv"
    dta = "dta"


def known_errors() -> tuple[type[BaseException], ...]:
    """Errors that carry a readable message and need no traceback."""
    from transforms.config import ConfigError
    from transforms.expectations import ValidationFailed
    from transforms.io.export import ExportError
    from transforms.io.memory import MemoryLimitError
    from transforms.io.warehouse import WarehouseError
    from transforms.raw import IngestError

    return (
        ConfigError,
        IngestError,
        ValidationFailed,
        WarehouseError,
        ExportError,
        MemoryLimitError,
        FileNotFoundError,
        PermissionError,
        OSError,
        LookupError,  # an unknown run id or indicator
    )


RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")
"""Prefect's loggers of flow and task runs: at ERROR they restate the failure the CLI prints."""


class WithoutTraceback(logging.Filter):
    """Log records lose their traceback, and Prefect's reports of the failure itself go (the
    CLI prints the error once); both are shown with --debug."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Drop a run's failure report; keep every other record without exc_info."""
        if record.name in RUN_LOGGERS and record.levelno >= logging.ERROR:
            return False
        record.exc_info = None
        record.exc_text = None
        return True


def quiet_tracebacks() -> None:
    """Prefect logs every failed task with its traceback; without --debug, the message will do."""
    loggers = [logging.getLogger(), logging.getLogger("prefect")]
    loggers += [
        logging.getLogger(name) for name in logging.root.manager.loggerDict if "prefect" in name
    ]
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, WithoutTraceback) for f in handler.filters):
                handler.addFilter(WithoutTraceback())


def storage_failure(error: BaseException) -> BaseException | None:
    """A WarehouseError saying the disk is full or not writable, when that is the cause."""
    from transforms.io.warehouse import WarehouseError, storage_error_message

    message = storage_error_message(error)
    if message is None:
        return None
    return WarehouseError(
        f"cannot write the audit's output: {message}. No results were published: the warehouse "
        "keeps its previous results (and, where it could still be written, records this run as "
        "failed in audit.runs). Free space (or fix permissions) and run again."
    )


def chosen_config(config: Path | None) -> Path:
    """--config; without it, the embedded sample when working inside this checkout (said on
    stderr), else an error: a cron job started elsewhere must not audit the sample silently."""
    from transforms.config import ConfigError

    if config is not None:
        return config
    here = Path.cwd().resolve()
    if here.is_relative_to(REPO_ROOT):
        errors.print(
            f"note: no --config given: using the embedded sample {SAMPLE_CONFIG}",
            markup=False,
            highlight=False,
        )
        return SAMPLE_CONFIG
    raise ConfigError(
        "--config is required: name the audit's TOML file (outside the welfare-audit "
        f"checkout the embedded sample is never used by default; it is {SAMPLE_CONFIG})"
    )


def existing_warehouse(path: Path) -> Path:
    """The warehouse file, or a readable error when no run has published one yet."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no warehouse yet (run `welfare-audit run` first)")
    return path


def published_warehouse(config: Path | None, warehouse: Path | None) -> Path:
    """--warehouse, else the config's output.warehouse; it must exist."""
    from transforms.config import load_config

    if warehouse is not None:
        return existing_warehouse(warehouse)
    return existing_warehouse(
        load_config(chosen_config(config), check_files=False).output.warehouse
    )


USER_ERROR = 2
"""Exit code for what the user can fix: configuration, files, disk, locks, memory."""
VALIDATION_FAILED = 3
"""Exit code when the data failed validation (a check of severity error, or too much
quarantined)."""


def exit_code(error: BaseException) -> int:
    """3 for failed validation, 2 for every other error the user can act on."""
    from transforms.expectations import ValidationFailed

    return VALIDATION_FAILED if isinstance(error, ValidationFailed) else USER_ERROR


def fail(error: BaseException, *, debug: bool) -> None:
    """Print a short message (or the traceback with --debug) and exit with its code."""
    if debug:
        raise error
    # the message is data (paths, config keys like [validation]), never rich markup
    errors.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
    errors.print("(run again with --debug for the full traceback)", style="dim")
    raise typer.Exit(code=exit_code(error))


def readable_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Every command's error handling, once: an error the user can act on (bad config, file,
    disk, unknown run, ...) prints one readable message and exits 2 (3 for failed
    validation); anything else, and every error under --debug, keeps its traceback (exit 1)."""

    @functools.wraps(command)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        debug = bool(kwargs.get("debug", False))
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, click.ClickException):
            raise
        except Exception as error:
            readable = storage_failure(error) or (
                error if isinstance(error, known_errors()) else None
            )
            if readable is None:
                raise
            fail(readable, debug=debug)
            raise AssertionError("fail() exits") from None

    return guarded


def print_summary(result: dict[str, Any]) -> None:
    """A short table of what the run read, loaded and quarantined."""
    table = Table(title=f"Audit run {result['run_id']}")
    for column in ("file", "rows_read", "loaded", "quarantined"):
        table.add_column(column, justify="left" if column == "file" else "right")
    for row in result["files"]:
        table.add_row(
            *(
                f"{row[c]:,}" if isinstance(row[c], int) else str(row[c])
                for c in ("file", "rows_read", "loaded", "quarantined")
            )
        )
    console.print(table)
    if result.get("lines"):
        console.print(lines_table(result["lines"]))
    if result.get("headline"):
        console.print(headline_table(result["headline"]))
    if result.get("models"):
        console.print(models_table(result["models"]))
    for alert in result.get("alerts", []):
        console.print(f"[bold yellow]alert:[/] {escape(alert['message'])}", highlight=False)
    console.print(f"Published to [bold]{escape(result['warehouse'])}[/]")
    console.print(f"Report: [bold]{escape(result['report'])}[/]")


def lines_table(rows: list[dict[str, Any]]) -> Table:
    """Each poverty line: its method, unit and value per person per year (range by region)."""
    table = Table(title="Poverty lines (per person per year; poor: welfare below the line)")
    for column in ("line", "method", "unit", "value"):
        table.add_column(column, justify="right" if column == "value" else "left")
    for row in rows:
        value = f"{row['lowest']:,.2f}"
        if row["regions"]:
            value = f"{row['lowest']:,.2f}–{row['highest']:,.2f} in {row['regions']} regions"
        currency = f" {row['currency']}" if row.get("currency") else ""
        table.add_row(row["poverty_line"], row["method"], row["unit"] or "–", value + currency)
    return table


def models_table(rows: list[dict[str, Any]]) -> Table:
    """Out-of-sample performance of each PMT model under each decision rule."""
    line = next((row["poverty_line"] for row in rows), "")
    table = Table(title=f"Proxy-means tests, out of sample (cross-validated), line {line}")
    for column in ("model", "decision rule", "AUC", "coverage", "exclusion", "inclusion"):
        left = column in {"model", "decision rule"}
        table.add_column(column, justify="left" if left else "right", no_wrap=left)
    for row in rows:
        rates = (
            f"{row[name]:.1%}" if row[name] is not None else "–"
            for name in ("coverage", "exclusion_error", "inclusion_error")
        )
        rule = row["decision_rule"]
        if row.get("programme"):
            rule = f"{rule} ({row['programme']})"
        table.add_row(row["model"], rule, f"{row['auc']:.3f}", *rates)
    return table


def interval_text(value: float | None, low: float | None, high: float | None) -> str:
    """'56.2% (54.3%–58.1%)', or a dash where a value is suppressed or undefined."""
    if value is None:
        return "–"
    if low is None or high is None:
        return f"{value:.1%}"
    return f"{value:.1%} ({low:.1%}–{high:.1%})"


def headline_table(rows: list[dict[str, Any]]) -> Table:
    """National rates with 95 % confidence intervals, one row per programme and line."""
    rates = ("poverty_rate", "coverage", "exclusion_error", "inclusion_error")
    table = Table(title="Programmes, whole population (95 % CI)")
    table.add_column("programme", no_wrap=True)
    table.add_column("line", no_wrap=True)
    for rate in rates:
        table.add_column(rate.replace("_", " "), justify="right")
    for row in rows:
        cells = [interval_text(*row[rate]) for rate in rates]
        table.add_row(str(row["programme"]), str(row["poverty_line"]), *cells)
    return table


DebugOption = Annotated[bool, typer.Option("--debug", help="Show the full traceback on errors.")]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Audit configuration (TOML). Default, inside this checkout only: the embedded sample.",
        show_default=False,
    ),
]


@app.command()
@readable_errors
def run(
    config: ConfigOption = None,
    warehouse: Annotated[
        Path | None,
        typer.Option("--warehouse", "-w", help="Published DuckDB file (overrides the config)."),
    ] = None,
    task_runner: Annotated[
        RunnerKind,
        typer.Option(help="Where tasks run: threads here, or a Dask cluster (prefect-dask)."),
    ] = RunnerKind.threads,
    dask_address: Annotated[
        str | None,
        typer.Option(
            help="Scheduler of an existing Dask cluster, e.g. tcp://10.0.0.5:8786. Without it, "
            "--task-runner dask starts a local cluster for the run."
        ),
    ] = None,
    dask_workers: Annotated[
        int | None,
        typer.Option(min=1, help="Worker processes of the local Dask cluster (default: cores)."),
    ] = None,
    retrain: Annotated[
        bool,
        typer.Option(
            "--retrain",
            help="Train every model anew instead of reusing the checked training cache in "
            "<output>/models/.",
        ),
    ] = False,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet", "-q", help="No progress and no tables: errors and one closing line only."
        ),
    ] = False,
    debug: DebugOption = False,
) -> None:
    """Run the full audit and publish it to the warehouse.

    Example: welfare-audit run --config data/sample/audit.toml --warehouse data/welfare_audit.duckdb

    On a Dask cluster: welfare-audit run --task-runner dask --dask-address tcp://host:8786
    """
    config = chosen_config(config)
    from transforms.config import load_config, pseudonym_key
    from transforms.io.ingest import check_headers
    from transforms.io.warehouse import check_can_start

    loaded = load_config(config)  # fail fast with a readable message before Prefect starts
    if dask_address and task_runner != RunnerKind.dask:
        raise typer.BadParameter("--dask-address needs --task-runner dask")
    check_headers(loaded)  # every mapped column in its file's header, before any heavy import
    if loaded.disclosure.publish_household_scores:
        pseudonym_key()  # before anything is created
    # the lock, output folder and write-ahead log checks, before the slow start-up
    check_can_start(
        warehouse.resolve() if warehouse else loaded.output.warehouse, loaded.output.directory
    )
    start_watchdog()  # stops Prefect's temporary server should this process be killed
    from flows import temporary_api

    starting_api = temporary_api.start_temporary_api()  # starts while we import below
    from flows.audit import audit
    from flows.runners import build_task_runner, local_dask_cluster
    from flows.validate import load_great_expectations

    if not debug:
        quiet_tracebacks()  # after the imports: Prefect's log handlers exist now
    with ExitStack() as stack:
        stack.enter_context(temporary_api.using(starting_api, meanwhile=load_great_expectations))
        address = dask_address
        if task_runner == RunnerKind.dask and not address:
            address = stack.enter_context(local_dask_cluster(dask_workers))
        flow = audit.with_options(task_runner=build_task_runner(task_runner, address))
        with showing_progress(console, quiet=quiet):
            result = flow(str(config), str(warehouse) if warehouse else None, retrain)
    if quiet:
        console.print(
            f"Audit run {result['run_id']} published to {result['warehouse']}", markup=False
        )
        return
    print_summary(result)


@app.command()
@readable_errors
def validate(config: ConfigOption = None, debug: DebugOption = False) -> None:
    """Ingest and validate the inputs only (nothing is published); print what was found.

    Example: welfare-audit validate --config my_survey/audit.toml
    """
    config = chosen_config(config)
    from transforms.config import load_config
    from transforms.io.ingest import check_headers
    from transforms.io.warehouse import output_lock

    loaded = load_config(config)
    check_headers(loaded)  # every mapped column in its file's header, before any heavy import
    with output_lock(loaded.output.directory):  # busy or not writable: say so now
        pass
    start_watchdog()  # stops Prefect's temporary server should this process be killed
    from flows import temporary_api

    starting_api = temporary_api.start_temporary_api()  # starts while we import below
    from flows.audit import check_inputs
    from flows.validate import load_great_expectations

    if not debug:
        quiet_tracebacks()
    with (
        temporary_api.using(starting_api, meanwhile=load_great_expectations),
        console.status("Reading and validating the inputs…"),
    ):
        result = check_inputs(str(config))
    print_validation(result)
    if any(not row["success"] and row["severity"] == "error" for row in result["validation"]):
        raise typer.Exit(code=VALIDATION_FAILED)


def print_validation(result: dict[str, Any]) -> None:
    """Rows per file, quarantine reasons and failed expectations, as tables."""
    files = Table(title="Rows per file")
    for column in ("file", "rows_read", "loaded", "quarantined"):
        files.add_column(column, justify="left" if column == "file" else "right")
    for row in result["files"]:
        files.add_row(row["file"], *(f"{row[c]:,}" for c in ("rows_read", "loaded", "quarantined")))
    console.print(files)
    if result["quarantine"]:
        reasons = Table(title="Quarantined rows by reason")
        for column in ("file", "column", "reason", "rows"):
            reasons.add_column(column, justify="right" if column == "rows" else "left")
        for row in result["quarantine"][:30]:
            name = Path(row["source_file"]).name
            reasons.add_row(name, row["column_name"], row["reason"], f"{row['rows']:,}")
        console.print(reasons)
    failed = [row for row in result["validation"] if not row["success"]]
    checks = Table(title=f"Expectations: {len(result['validation'])} checked, {len(failed)} failed")
    for column in ("severity", "table", "column", "expectation", "observed"):
        checks.add_column(column)
    for row in failed:
        style = "red" if row["severity"] == "error" else "yellow"
        cells = (row["table_name"], row["column_name"] or "", row["expectation"], row["observed"])
        checks.add_row(f"[{style}]{row['severity']}[/]", *cells)
    if failed:
        console.print(checks)
    else:  # an empty table says less than one line
        console.print(f"Expectations: {len(result['validation'])} checked, none failed.")
    console.print(f"Data Docs: {result['data_docs']}", markup=False)


@app.command()
@readable_errors
def generate(
    households: Annotated[
        int, typer.Option("--households", "-n", min=100, help="Number of households.")
    ] = 20_000,
    seed: Annotated[
        int, typer.Option("--seed", "-s", help="Random seed (same seed, same bytes).")
    ] = 20261127,
    file_format: Annotated[
        FileFormat, typer.Option("--format", "-f", help="Output file format.")
    ] = FileFormat.parquet,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("synthetic"),
    warehouse: Annotated[
        str, typer.Option(help="The written config's output.warehouse (relative to --out).")
    ] = "welfare_audit.duckdb",
    output_directory: Annotated[
        str, typer.Option(help="The written config's output.directory (relative to --out).")
    ] = "output",
    shape: Annotated[
        SurveyShape,
        typer.Option(
            help="households: households, members, regions, projection and three programmes; "
            "person-income: one row per person, incomes with losses, no region or design."
        ),
    ] = SurveyShape.households,
    debug: DebugOption = False,
) -> None:
    """Write a realistic synthetic survey and the config that maps it.

    Example: welfare-audit generate --households 100000 --seed 7 --format csv --out /tmp/survey

    A person-level income survey: welfare-audit generate --shape person-income -n 5000 -o /tmp/p
    """
    from transforms.sample.files import (
        WriteFormat,
        write_person_income_survey,
        write_synthetic_survey,
    )

    written = cast(WriteFormat, file_format.value)
    output = {"warehouse": warehouse, "directory": output_directory}
    with console.status(f"Generating {households:,} rows…"):
        if shape == SurveyShape.person_income:
            summary = write_person_income_survey(
                out, persons=households, seed=seed, file_format=written, output=output
            )
        else:
            summary = write_synthetic_survey(
                out, households=households, seed=seed, file_format=written, output=output
            )
    table = Table(title=f"Synthetic survey in {out} ({summary.seconds:.1f} s)")
    table.add_column("file")
    table.add_column("rows", justify="right")
    for role, path in summary.paths.items():
        table.add_row(str(path), f"{summary.rows[role]:,}" if role in summary.rows else "")
    console.print(table)


@app.command()
@readable_errors
def report(
    run_id: Annotated[
        str | None,
        typer.Option("--run-id", help="The run to report on (default: the latest successful one)."),
    ] = None,
    config: ConfigOption = None,
    warehouse: Annotated[
        Path | None, typer.Option("--warehouse", "-w", help="Published DuckDB file.")
    ] = None,
    debug: DebugOption = False,
) -> None:
    """Regenerate a run's HTML report and Excel standard tables from the warehouse.

    Example: welfare-audit report --run-id 20261127T160901Z-ff2375 (default: the latest run)
    """
    config = chosen_config(config)
    from flows.report import write_report
    from transforms.config import load_config
    from transforms.io.provenance import latest_run_id
    from transforms.io.warehouse import connect

    settings = load_config(config, check_files=False)
    path = existing_warehouse(warehouse or settings.output.warehouse)
    if run_id is None:
        with connect(path, read_only=True) as con:
            run_id = latest_run_id(con)
    html, workbook, _ = write_report(path, run_id, settings.output.directory / "runs" / run_id)
    console.print(
        f"Report: [bold]{escape(str(html))}[/]\nStandard tables: [bold]{escape(str(workbook))}[/]"
    )


WarehouseOption = Annotated[
    Path | None,
    typer.Option("--warehouse", "-w", help="Published DuckDB file (default: the config's)."),
]


@app.command()
@readable_errors
def runs(
    config: ConfigOption = None,
    warehouse: WarehouseOption = None,
    debug: DebugOption = False,
) -> None:
    """List the runs recorded in the warehouse, newest first, with their status.

    Example: welfare-audit runs --warehouse data/welfare_audit.duckdb
    """
    from transforms.io.warehouse import connect

    path = published_warehouse(config, warehouse)
    with connect(path, read_only=True) as con:
        rows = con.sql(
            """SELECT run_id, status, started_at, finished_at, rows_read, error
               FROM audit.runs ORDER BY started_at DESC"""
        ).fetchall()
    table = Table(title=f"Runs in {path}")
    table.add_column("run id", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("started (UTC)", no_wrap=True)
    table.add_column("seconds", justify="right")
    table.add_column("rows read", justify="right")
    table.add_column("error")
    colours = {"succeeded": "green", "failed": "red", "running": "yellow"}
    for run_id, status, started, finished, read, message in rows:
        seconds = f"{(finished - started).total_seconds():.0f}" if started and finished else ""
        table.add_row(
            run_id,
            f"[{colours.get(status, 'white')}]{status}[/]",
            f"{started:%Y-%m-%d %H:%M}" if started else "",
            seconds,
            f"{read:,}" if read is not None else "",
            (message or "")[:80],
        )
    console.print(table)


@app.command()
@readable_errors
def export(
    run_id: Annotated[
        str | None, typer.Option("--run-id", help="The run (default: the latest successful one).")
    ] = None,
    file_format: Annotated[
        ExportFormat, typer.Option("--format", help="File format of the tables.")
    ] = ExportFormat.csv,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Folder to create (default: exports/RUN_ID-FORMAT beside the warehouse).",
        ),
    ] = None,
    with_quarantine: Annotated[
        bool,
        typer.Option(
            "--with-quarantine",
            help="Also export audit.quarantine (raw input values: they may hold identifiers).",
        ),
    ] = False,
    config: ConfigOption = None,
    warehouse: WarehouseOption = None,
    debug: DebugOption = False,
) -> None:
    """Write every table of a run as CSV, Parquet or Stata files, with a data dictionary.

    Example: welfare-audit export --format dta --out audit_2026_dta
    """
    from transforms.io.export import export_run
    from transforms.io.provenance import latest_run_id
    from transforms.io.warehouse import connect

    path = published_warehouse(config, warehouse)
    with connect(path, read_only=True) as con:
        chosen = run_id or latest_run_id(con)
        folder = out or path.parent / "exports" / f"{chosen}-{file_format.value}"
        done = export_run(
            con,
            run_id=chosen,
            warehouse=path,
            folder=folder,
            export_format=file_format,
            with_raw_values=with_quarantine,
        )
    rows = sum(file.rows for file in done.files)
    console.print(
        f"Exported run {chosen}: {len(done.files)} tables, {rows:,} rows, as {file_format.value} "
        f"with data_dictionary.csv and manifest.json, to {done.folder}",
        markup=False,
    )
    for table_name in done.left_out:
        console.print(
            f"Left out audit.{table_name}: its rows hold raw input values, which may hold "
            "identifiers (add --with-quarantine to export it).",
            markup=False,
        )


@app.command()
@readable_errors
def explain(
    run_id: Annotated[
        str | None, typer.Option("--run-id", help="The run (default: the latest successful one).")
    ] = None,
    indicator: Annotated[
        str | None,
        typer.Option(help="Also print this indicator's definition, unit and source."),
    ] = None,
    config: ConfigOption = None,
    warehouse: WarehouseOption = None,
    debug: DebugOption = False,
) -> None:
    """Where a published number comes from: its run, config hash, input file hashes, code
    version, validation results and model artifacts (docs/queries/provenance.sql).

    Example: welfare-audit explain --warehouse data/welfare_audit.duckdb --indicator exclusion_error
    """
    from transforms.io.provenance import explain_run, indicator_definition, latest_run_id
    from transforms.io.warehouse import connect

    path = published_warehouse(config, warehouse)
    with connect(path, read_only=True) as con:
        chosen = run_id or latest_run_id(con)
        sections = explain_run(con, chosen)
    definition = indicator_definition(indicator) if indicator else None
    console.print(f"[bold]Run {escape(chosen)}[/] in {escape(str(path))}")
    for title, frame in sections:
        console.print(f"\n[bold]{title[0].upper()}{title[1:]}[/]")
        console.print(frame_table(frame))
    if definition is not None:
        console.print(
            f"[bold]{definition.name}[/] ({definition.table}, {definition.unit})\n"
            f"{definition.definition}\nSource: {definition.source}"
        )


def frame_table(frame: Any) -> Table:
    """A polars frame as a rich table: narrow frames as columns, wide ones as field/value rows."""
    table = Table()
    if frame.width <= 4:
        for column in frame.columns:
            table.add_column(column, overflow="fold")
        for row in frame.iter_rows():
            table.add_row(*("" if value is None else str(value) for value in row))
    else:
        table.add_column("field", style="bold")
        table.add_column("value", overflow="fold")
        for number, record in enumerate(frame.iter_rows(named=True)):
            if number:
                table.add_section()
            for field, value in record.items():
                table.add_row(field, "" if value is None else str(value))
    if frame.is_empty():
        table.add_row("(none)", *([""] * (len(table.columns) - 1)))
    return table


@app.command()
@readable_errors
def serve(
    config: ConfigOption = None,
    warehouse: WarehouseOption = None,
    cron: Annotated[str, typer.Option(help="When to run, as a cron string (UTC).")] = "0 2 1 * *",
    name: Annotated[str, typer.Option(help="Deployment name.")] = "scheduled-audit",
    debug: DebugOption = False,
) -> None:
    """Serve the audit on a schedule (Prefect serve); runs until stopped (Ctrl-C or SIGTERM).

    Schedules fire only against a Prefect server: start one with `prefect server start`
    and set PREFECT_API_URL; without a server that answers, serve refuses to start. The
    deployment, `welfare-audit/scheduled-audit` by default, is the one prefect.yaml declares;
    runs queue one at a time. Trigger a run now with
    `prefect deployment run 'welfare-audit/scheduled-audit'`.

    Example: welfare-audit serve --config data/sample/audit.toml --cron "0 2 1 * *"
    """
    config = chosen_config(config)
    from prefect.client.schemas.objects import ConcurrencyLimitConfig

    from flows.audit import audit
    from flows.observability import audit_tags, prefect_api_problem
    from transforms.config import config_sha256, load_config

    loaded = load_config(config)
    problem = prefect_api_problem()
    if problem:
        raise ConnectionError(f"serve: {problem}")
    parameters = {
        "config_path": str(config.resolve()),
        "warehouse": str(warehouse.resolve()) if warehouse else None,
    }
    audit.serve(
        name=name,
        cron=cron,
        parameters=parameters,
        tags=["welfare-audit", *audit_tags(loaded.name, config_sha256(config))],
        # an overlapping scheduled run waits for the previous one instead of failing on the lock
        global_limit=ConcurrencyLimitConfig(limit=1),
        pause_on_shutdown=False,
    )


def print_version(requested: bool) -> None:
    """--version: print the package version and stop."""
    if requested:
        from importlib import metadata

        console.print(f"welfare-audit {metadata.version('welfare-audit')}")
        raise typer.Exit()


@app.callback()
def options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Audit how precisely a social-assistance programme reaches the people it is meant for."""


def main() -> None:
    """Entry point of the console script."""
    for key, value in QUIET_DEFAULTS.items():
        os.environ.setdefault(key, value)
    if os.environ.get("PREFECT_API_URL") == "":
        # empty means "no server" (as unset): Prefect's temporary API then serves the run, but
        # an empty URL left set made its events client log "Error emitting event" on every run
        del os.environ["PREFECT_API_URL"]
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    try:
        app()
    except SystemExit as stop:
        leave(stop.code)
    leave(0)


def leave(code: int | str | None) -> NoReturn:
    """End the process with ``code`` as sys.exit would, without the interpreter's clean-up.

    The command is over: files are closed. Python's own exit first runs ``threading._shutdown``
    (pools such as joblib's and concurrent.futures' stop their threads there, then every
    non-daemon thread is waited for) and then the exit handlers (log flushing, Prefect's
    workers, the watchdog); both run here, in that order. What is skipped is tearing down the
    modules Prefect, Great Expectations and scikit-learn loaded: about 1.5 s of every
    command's wall time, for nothing. Where that private step is missing, Python exits as usual.
    """
    if isinstance(code, str):
        sys.stderr.write(f"{code}\n")
        code = 1
    shutdown = getattr(threading, "_shutdown", None)
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if shutdown is None or run_exit_handlers is None:
        sys.exit(code)
    shutdown()
    run_exit_handlers()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)


if __name__ == "__main__":
    main()
