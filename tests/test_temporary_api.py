"""The temporary Prefect API the CLI starts early: used when it answers, left to Prefect when
it does not, and never left running (the end-to-end path is the quickstart test's)."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from flows import temporary_api
from flows.temporary_api import TemporaryApi


def child(code: str) -> subprocess.Popen[bytes]:
    """A Python child process running ``code``."""
    return subprocess.Popen([sys.executable, "-c", code])


def test_an_api_that_dies_is_left_to_prefect_and_settings_are_untouched() -> None:
    from prefect.settings import get_current_settings

    before = get_current_settings().api.url
    api = TemporaryApi(child("raise SystemExit(1)"), temporary_api.free_port())
    with temporary_api.using(api, timeout=30):
        assert get_current_settings().api.url == before
    assert api.process.poll() == 1


def test_an_api_that_never_answers_is_stopped_at_the_deadline() -> None:
    api = TemporaryApi(child("import time; time.sleep(60)"), temporary_api.free_port())
    assert temporary_api.wait_until_ready(api, timeout=0.5) is None
    assert api.process.poll() is not None  # stopped, not left running


def test_an_answering_api_is_used_inside_and_stopped_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prefect.settings import get_current_settings

    api = TemporaryApi(child("import time; time.sleep(60)"), temporary_api.free_port())
    monkeypatch.setattr(temporary_api, "answers", lambda _: True)
    with temporary_api.using(api, timeout=30):
        assert get_current_settings().api.url == api.url
        assert get_current_settings().flows.heartbeat_frequency is None  # nobody to watch
    assert api.process.poll() is not None


def test_work_meanwhile_runs_once_while_the_api_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI imports Great Expectations while the server starts: once, before the API is
    used, and not at all when the API already answers (it would only delay the run)."""
    replies = iter([False, False, True])
    monkeypatch.setattr(temporary_api, "answers", lambda _: next(replies))
    done: list[str] = []
    api = TemporaryApi(child("import time; time.sleep(60)"), temporary_api.free_port())
    with temporary_api.using(api, timeout=30, meanwhile=lambda: done.append("imported")):
        assert done == ["imported"]
    assert api.process.poll() is not None

    monkeypatch.setattr(temporary_api, "answers", lambda _: True)
    ready = TemporaryApi(child("import time; time.sleep(60)"), temporary_api.free_port())
    with temporary_api.using(ready, timeout=30, meanwhile=lambda: done.append("again")):
        assert done == ["imported"]
    assert ready.process.poll() is not None


def test_draining_prefects_workers_drops_only_the_drain_progress_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Prefect's 'Still processing items' drain warning is withheld at a run's end; any other
    warning of the same logger passes; overlapping blocks (threads) leave no filter behind."""
    events = logging.getLogger("EventsWorker")
    names, prefix = ["EventsWorker"], temporary_api.DRAIN_PROGRESS
    with caplog.at_level(logging.DEBUG):
        outer = temporary_api.without_messages(names, prefix)
        inner = temporary_api.without_messages(names, prefix)
        outer.__enter__()
        inner.__enter__()
        outer.__exit__(None, None, None)  # the first to enter ends first
        events.warning("Still processing items: 1 items remaining...")
        events.warning("Service 'EventsWorker' queue is full (10 items), dropping item")
        inner.__exit__(None, None, None)
        events.warning("Still processing items: 2 items remaining...")
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "Service 'EventsWorker' queue is full (10 items), dropping item",
        "Still processing items: 2 items remaining...",
    ]
    assert events.filters == []
