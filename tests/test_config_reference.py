"""docs/configuration.md is generated from the config models: current, complete, described."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, Field

from transforms.config import AuditConfig
from transforms.report.config_reference import (
    configuration_reference_markdown,
    model_reference_markdown,
)

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "configuration.md"
EXAMPLES = [ROOT / "data" / "sample" / "audit.toml", ROOT / "docs" / "examples" / "lsms_audit.toml"]
REGENERATE = (
    'make docs, i.e. .venv/bin/python -c "from transforms.report.config_reference import '
    "configuration_reference_markdown as c; "
    "open('docs/configuration.md', 'w', encoding='utf-8').write(c())\""
)


def test_committed_reference_is_current() -> None:
    committed = REFERENCE.read_text(encoding="utf-8")
    assert committed == configuration_reference_markdown(), (
        f"docs/configuration.md is out of date with transforms/config.py; regenerate: {REGENERATE}"
    )


def models_under(annotation: Any, seen: list[type[BaseModel]]) -> list[type[BaseModel]]:
    """Every model reachable from an annotation (nested, Optional, list, dict, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation not in seen:
            seen.append(annotation)
            for info in annotation.model_fields.values():
                models_under(info.annotation, seen)
        return seen
    for arg in get_args(annotation):
        models_under(arg, seen)
    return seen


def test_every_configuration_key_has_a_description() -> None:
    models = models_under(AuditConfig, [])
    undescribed = [
        f"{model.__name__}.{name}"
        for model in models
        for name, info in model.model_fields.items()
        if not (info.description or "").strip()
    ]
    assert undescribed == []
    assert {"CustomModel", "BoolCoding", "FiscalScenario"} <= {m.__name__ for m in models}


def documented(markdown: str) -> dict[str, dict[str, str]]:
    """Table heading ('[inputs.households]', '[[fiscal.scenarios]]', '' for top level) ->
    key -> type, read back from the rendered reference."""
    tables: dict[str, dict[str, str]] = {}
    current: list[str] = []
    for line in markdown.splitlines():
        if line.startswith("## "):
            current = re.findall(r"`(\[[^`]*\])`", line) or [""]
            for table in current:
                tables.setdefault(table, {})
        elif row := re.match(r"\| `([^`]+)` \| ([^|]+) \|", line):
            for table in current:
                tables[table][row.group(1)] = row.group(2)
    return tables


def missing_keys(
    data: dict[str, Any], table: str, path: str, tables: dict[str, dict[str, str]], seen: set[str]
) -> Iterator[str]:
    """Keys of a parsed TOML table without a row in the reference; dynamic names -> <name>."""
    for key, value in data.items():
        dotted = f"{path}.{key}" if path else key
        if key not in tables.get(table, {}):
            yield f"{dotted} (no row in {table or 'the top level'})"
            continue
        seen.add(dotted)
        if isinstance(value, list) and f"[[{dotted}]]" in tables:
            for entry in value:
                yield from missing_keys(entry, f"[[{dotted}]]", dotted, tables, seen)
        elif isinstance(value, dict) and f"[{dotted}]" in tables:
            yield from missing_keys(value, f"[{dotted}]", dotted, tables, seen)
        elif isinstance(value, dict) and f"[{dotted}.<name>]" in tables:
            for entry in value.values():
                named = f"{dotted}.<name>"
                yield from missing_keys(entry, f"[{named}]", named, tables, seen)
        elif isinstance(value, dict) and not tables[table][key].startswith("table of"):
            yield f"{dotted} (a table in the file, documented as {tables[table][key]})"


def test_every_key_of_the_example_configs_is_in_the_reference() -> None:
    tables = documented(configuration_reference_markdown())
    seen: set[str] = set()
    for example in EXAMPLES:
        data = tomllib.loads(example.read_text(encoding="utf-8"))
        assert list(missing_keys(data, "", "", tables, seen)) == [], example.name
    assert {
        "inputs.households.columns.hh_id",
        "inputs.households.booleans.<name>.true",
        "inputs.members.booleans.<name>.otherwise",
        "inputs.households.proxies.<name>.kind",
        "inputs.households.value_labels",
        "fiscal.financing.share",
        "fiscal.scenarios.elderly_growth_multiplier",
    } <= seen


class Cat(BaseModel):
    """A cat."""

    kind: Literal["cat"] = Field(description="Discriminator.")
    lives: Annotated[int, Field(ge=0, le=9)] = Field(
        default=9, description="Lives left.", json_schema_extra={"unit": "lives"}
    )


class Dog(BaseModel):
    """A dog."""

    kind: Literal["dog"] = Field(description="Discriminator.")


class Zoo(BaseModel):
    """A zoo."""

    pets: dict[str, Annotated[Cat | Dog, Field(discriminator="kind")]] = Field(
        default_factory=dict, description="Pets by name."
    )
    keeper: Cat | None = Field(default=None, description="The keeper's cat.")


def test_unions_of_tables_get_one_section_per_variant() -> None:
    text = model_reference_markdown(Zoo)
    assert '## `[pets.<name>]`\n\nWhen `kind = "cat"`: A cat.' in text
    assert '## `[pets.<name>]`\n\nWhen `kind = "dog"`: A dog.' in text
    assert "| `pets` | table of tables | `{}` |  | Pets by name. |" in text
    assert "| `keeper` | table | not set |  | The keeper's cat. |" in text
    assert "| `lives` | integer in [0, 9] | `9` | lives | Lives left. |" in text
    assert "## `[keeper]`\n\nA cat." in text
