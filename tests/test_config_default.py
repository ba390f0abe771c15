"""Without --config, the sample is audited only inside the checkout, and never silently."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.cli import SAMPLE_CONFIG, chosen_config
from transforms.config import ConfigError


def test_outside_the_checkout_a_missing_config_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="--config is required"):
        chosen_config(None)
    given = tmp_path / "mine.toml"
    assert chosen_config(given) == given


def test_inside_the_checkout_the_sample_is_used_and_said(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(SAMPLE_CONFIG.parent)
    assert chosen_config(None) == SAMPLE_CONFIG
    assert "using the embedded sample" in capsys.readouterr().err
