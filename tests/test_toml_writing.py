"""TOML written with tomli_w and folded onto fewer lines reads back as the same values."""

from __future__ import annotations

import tomllib
from typing import Any

import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.report.config_reference import toml_literal
from transforms.sample.generator import one_line_arrays

TEXT = st.text(st.characters(codec="utf-8"), max_size=12)
SCALARS = TEXT | st.integers() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False)
KEYS = st.text("ab_-1 .[]\"'", min_size=1, max_size=6)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(config=st.dictionaries(KEYS, VALUES, max_size=4))
def test_folded_arrays_read_back_as_written(config: dict[str, Any]) -> None:
    assert tomllib.loads(one_line_arrays(tomli_w.dumps(config))) == config


def test_arrays_of_scalars_go_on_one_line_and_arrays_of_tables_stay() -> None:
    config = {
        "models": {"enabled": ["ols", "a, b", "[x]\n"], "folds": 5},
        "scenarios": [{"name": "baseline"}, {"name": "fast", "multiplier": 1.5}],
    }
    assert one_line_arrays(tomli_w.dumps(config)) == (
        "scenarios = [\n"
        '    { name = "baseline" },\n'
        '    { name = "fast", multiplier = 1.5 },\n'
        "]\n\n"
        "[models]\n"
        'enabled = ["ols", "a, b", "[x]\\n"]\n'
        "folds = 5\n"
    )


@settings(max_examples=200, deadline=None)
@given(value=VALUES)
def test_reference_defaults_are_one_line_toml_literals(value: Any) -> None:
    literal = toml_literal(value)
    assert "\n" not in literal
    assert tomllib.loads(f"v = {literal}")["v"] == value


def test_reference_defaults_leave_null_keys_out() -> None:
    assert toml_literal([{"source": "local_budget", "share": None}, {}]) == (
        '[{ source = "local_budget" }, {}]'
    )
