"""The generic package names resolve to this checkout, never to another installed package."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["flows", "transforms", "models"])
def test_packages_resolve_inside_the_checkout(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__file__ is not None
    assert Path(module.__file__).resolve().is_relative_to(ROOT), module.__file__


def test_data_folder_is_not_a_package() -> None:
    assert not (ROOT / "data" / "__init__.py").exists()


def test_no_module_shadows_a_dependency() -> None:
    shadowing = {"polars", "duckdb", "prefect", "sklearn", "great_expectations", "typer"}
    names = {p.stem for p in ROOT.glob("*/*.py")} | {p.stem for p in ROOT.glob("*.py")}
    assert not names & shadowing
