"""What the audit tells Prefect and the terminal: names, keys, events and progress lines."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import pytest
from rich.console import Console

from flows.observability import artifact_key, audit_name_of, audit_slug, audit_tags
from flows.progress import PROGRESS_LOGGER, StageEvent, stage
from flows.progress_view import LiveProgress, PlainProgress, plain_line, showing_progress


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Dibao audit 2026", "dibao-audit-2026"),
        ("  Región Andina / Ñuble  ", "regi-n-andina-uble"),
        ("___", "audit"),
        ("x" * 80, "x" * 48),
    ],
)
def test_audit_slug_uses_prefects_key_alphabet(name: str, slug: str) -> None:
    assert audit_slug(name) == slug
    assert artifact_key(name, "report") == f"{slug}-report"


def test_audit_name_comes_from_the_config_or_its_file_name(tmp_path: Path) -> None:
    named = tmp_path / "a.toml"
    named.write_text('name = "Dibao 2026"\n[inputs]\n', encoding="utf-8")
    broken = tmp_path / "broken-config.toml"
    broken.write_text("name = [unclosed", encoding="utf-8")
    assert audit_name_of(named) == "Dibao 2026"
    assert audit_name_of(broken) == "broken-config"  # a broken config still names its run
    assert audit_name_of(tmp_path / "missing.toml") == "missing"
    assert audit_tags("Dibao 2026", "ab" * 32) == ["audit:dibao-2026", "config:abababababab"]


def test_plain_progress_is_one_line_per_stage_with_its_time() -> None:
    now = datetime(2026, 12, 7, 7, 15, 11)
    finished = StageEvent("validate", "finish", seconds=12.34)
    models = StageEvent("models", "advance", done=2, total=4, unit="models", detail="rf ready")
    assert plain_line(finished, now) == (
        "07:15:11 Validating (row rules, Great Expectations): done in 12.3 s"
    )
    assert plain_line(models, now) == "07:15:11   models: rf ready, 2 of 4 models"
    assert plain_line(StageEvent("validate", "start"), now) is None


def test_progress_goes_to_the_console_and_quiet_shows_nothing(tmp_path: Path) -> None:
    written = tmp_path / "log.txt"
    with written.open("w") as handle:
        console = Console(file=handle, force_terminal=False, width=240)
        with showing_progress(console, quiet=False), stage("fiscal") as details:
            details.append("3 scenarios")
        with showing_progress(console, quiet=True), stage("report"):
            pass
    lines = written.read_text().splitlines()
    assert len(lines) == 1
    assert lines[0].endswith("Fiscal feedback: done in 0.0 s (3 scenarios)")
    assert not ours_left()  # nothing left behind


def test_live_progress_on_a_terminal_counts_models_and_finishes_each_stage() -> None:
    import io

    from flows.progress import advance

    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=160)
    with showing_progress(console, quiet=False):
        with stage("models", total=2, unit="models"):
            advance("models", 1, 2, "models", "ols ready")
            advance("models", 2, 2, "models", "logit ready")
        with stage("report"):
            pass
    shown = screen.getvalue()
    assert "Training and scoring the PMT models" in shown
    assert "2 of 2 models" in shown
    assert "Report and standard tables" in shown
    assert not ours_left()


def ours_left() -> list[logging.Handler]:
    """Progress handlers still attached after the display ended (there must be none)."""
    handlers = logging.getLogger(PROGRESS_LOGGER).handlers
    return [handler for handler in handlers if isinstance(handler, LiveProgress | PlainProgress)]
