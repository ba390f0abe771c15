"""docs/configuration.md and docs/audit.schema.json are generated from the config models:
current, complete, described; the schema accepts the example configs."""

from __future__ import annotations

import json
import operator
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from transforms.config import AuditConfig
from transforms.report.config_reference import (
    AuditSchema,
    config_json_schema_text,
    configuration_reference_markdown,
    model_reference_markdown,
)

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "configuration.md"
SCHEMA = ROOT / "docs" / "audit.schema.json"
EXAMPLES = [
    ROOT / "data" / "sample" / "audit.toml",
    ROOT / "docs" / "examples" / "lsms_audit.toml",
    ROOT / "docs" / "examples" / "budget_food.toml",
]
REGENERATE = "make docs (writes docs/configuration.md and docs/audit.schema.json)"
JSON_TYPES: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": int | float,
    "boolean": bool,
    "array": list,
    "object": dict,
    "null": type(None),
}
BOUNDS = {
    "minimum": operator.ge,
    "maximum": operator.le,
    "exclusiveMinimum": operator.gt,
    "exclusiveMaximum": operator.lt,
}


def test_committed_reference_is_current() -> None:
    committed = REFERENCE.read_text(encoding="utf-8")
    assert committed == configuration_reference_markdown(), (
        f"docs/configuration.md is out of date with transforms/config.py; regenerate: {REGENERATE}"
    )


def test_committed_schema_is_current() -> None:
    committed = SCHEMA.read_text(encoding="utf-8")
    assert committed == config_json_schema_text(), (
        f"docs/audit.schema.json is out of date with transforms/config.py; regenerate: {REGENERATE}"
    )
    assert json.loads(committed) == AuditConfig.model_json_schema(schema_generator=AuditSchema)


def without_added_defaults(published: Any, plain: Any) -> Any:
    """The published schema less the defaults that pydantic's own schema leaves out."""
    if isinstance(published, dict) and isinstance(plain, dict):
        return {
            key: without_added_defaults(value, plain.get(key))
            for key, value in published.items()
            if key in plain or key != "default"
        }
    if isinstance(published, list) and isinstance(plain, list) and len(published) == len(plain):
        return [without_added_defaults(a, b) for a, b in zip(published, plain, strict=True)]
    return published


def test_published_schema_is_pydantics_with_the_defaults_of_default_factories() -> None:
    published = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert published.pop("$schema") == "https://json-schema.org/draft/2020-12/schema"
    assert without_added_defaults(published, AuditConfig.model_json_schema()) == (
        AuditConfig.model_json_schema()
    )
    csv = published["$defs"]["CsvOptions"]["properties"]["null_values"]
    assert csv["default"] == ["", "NA", "N/A", ".", "NaN"]
    assert published["$defs"]["Fiscal"]["properties"]["scenarios"]["default"] == [
        {"name": "baseline", "elderly_growth_multiplier": 1.0, "real_benefit_growth": None}
    ]


def test_every_configuration_key_has_a_description() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    defs = schema["$defs"]
    undescribed = [
        f"{table.get('title')}.{key}"
        for table in [schema, *defs.values()]
        for key, prop in table.get("properties", {}).items()
        # pydantic leaves out a key's description when it repeats its table's
        if not (prop.get("description") or defs.get(ref_name(prop), {}).get("description"))
    ]
    assert undescribed == []
    assert {"CustomModel", "BoolCoding", "FiscalScenario"} <= set(defs)


def test_rows_give_type_default_and_unit_from_the_schema() -> None:
    text = configuration_reference_markdown()
    for row in [
        '| `null_values` | array of string | `["", "NA", "N/A", ".", "NaN"]` |  |',
        '| `true` | array of (string, integer, float or boolean) | `[1, "1", "yes", "true"]` |',
        "| `value_labels` | table of tables of string | `{}` |  |",
        "| `csv` | table | defaults below |  |",
        "| `members` | table | not set |  |",
        "| `percentile` | float in (0, 1) | not set | fraction |",
        "| `max_train_rows` | integer >= 1000 | `100000` | households |",
        "| `need_tier_bands` | table of integer, keys `extreme_poor`, `poor`, `near_poor` or "
        "`non_poor` | not set |  |",
        "| `params` | table of any value | `{}` |  |",
        '| `warehouse` | path | `"welfare_audit.duckdb"` |  |',
        '| `financing` | array of tables | `[{ source = "central_transfer", rule = "share", '
        'share = 0.6 }, { source = "local_budget", rule = "remainder" }]` |  |',
    ]:
        assert row in text
    assert "## `[inputs.households.csv]`, `[inputs.members.csv]`, `[inputs.regions.csv]`" in text
    assert "## `[[fiscal.financing]]`\n\nOne source of programme finance and its rule." in text
    assert "| `welfare` | table | defaults below |  | What the welfare column measures. |" in text


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


def ref_name(schema: dict[str, Any]) -> str:
    """The $defs name of a (possibly optional) reference, '' when there is none."""
    refs = [alt.get("$ref", "") for alt in [schema, *schema.get("anyOf", [])]]
    return next((ref.rsplit("/", 1)[-1] for ref in refs if ref), "")


def problems(
    value: Any, schema: dict[str, Any], defs: dict[str, Any], path: str, seen: set[str]
) -> list[str]:
    """Unknown or missing keys, wrong types, bad values (keywords pydantic writes); keys -> seen."""
    if "$ref" in schema:
        schema = {**defs[ref_name(schema)], **{k: v for k, v in schema.items() if k != "$ref"}}
    if alternatives := schema.get("anyOf", schema.get("oneOf")):
        tried: list[tuple[list[str], set[str]]] = []
        for alternative in alternatives:
            checked: set[str] = set()
            tried.append((problems(value, alternative, defs, path, checked), checked))
        found, checked = min(tried, key=lambda attempt: len(attempt[0]))
        seen |= checked  # the keys of the alternative that fits best, not of the others
        return found
    expected = JSON_TYPES.get(schema.get("type", ""), object)
    is_number = schema.get("type") in {"integer", "number"}
    if not isinstance(value, expected) or (is_number and isinstance(value, bool)):
        return [f"{path}: {value!r} is not {schema['type']}"]
    if value not in schema.get("enum", [value]) or schema.get("const", value) != value:
        return [f"{path}: {value!r} is not one of the allowed values"]
    if any(not check(value, schema[key]) for key, check in BOUNDS.items() if key in schema):
        return [f"{path}: {value!r} is out of range"]
    if isinstance(value, list):
        item = schema.get("items", {})
        return [found for entry in value for found in problems(entry, item, defs, path, seen)]
    if isinstance(value, dict):
        missing = [key for key in schema.get("required", []) if key not in value]
        return [f"{path}.{key}: required key is missing".lstrip(".") for key in missing] + [
            found
            for key, entry in value.items()
            for found in key_problems(key, entry, schema, defs, path, seen)
        ]
    return []


def key_problems(
    key: str, value: Any, table: dict[str, Any], defs: dict[str, Any], path: str, seen: set[str]
) -> list[str]:
    """Problems of one key of a table: no property for it, or its value's."""
    dotted = f"{path}.{key}" if path else key
    allowed = table.get("propertyNames", {}).get("enum", [key])
    schema = table.get("properties", {}).get(key, table.get("additionalProperties", True))
    if schema is False or key not in allowed:
        return [f"{dotted}: no such key in the schema"]
    seen.add(dotted)
    return problems(value, schema if isinstance(schema, dict) else {}, defs, dotted, seen)


def test_the_published_schema_accepts_the_example_configs() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    seen: set[str] = set()
    for example in EXAMPLES:
        data = tomllib.loads(example.read_text(encoding="utf-8"))
        assert problems(data, schema, schema["$defs"], "", seen) == [], example.name
    assert {
        "inputs.households.columns.hh_id",
        "inputs.households.booleans.urban.true",
        "inputs.households.value_labels.roof.1",
        "inputs.households.proxies.roof.kind",
        "fiscal.financing.share",
        "fiscal.scenarios.elderly_growth_multiplier",
        "output.warehouse",
    } <= seen


def test_the_schema_check_finds_unknown_keys_wrong_types_and_values() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    bad = {
        "seed": "12",
        "inputs": {"households": {"path": "h.csv", "colums": {}}},
        "poverty_lines": [{"method": "absolute", "percentile": 1.5}],
        "fiscal": {"scenarios": [{"name": "x", "growth": 1}]},
    }
    assert problems(bad, schema, schema["$defs"], "", set()) == [
        "seed: '12' is not integer",
        "inputs.households.columns: required key is missing",
        "inputs.households.colums: no such key in the schema",
        "poverty_lines.method: 'absolute' is not one of the allowed values",
        "poverty_lines.percentile: 1.5 is out of range",
        "fiscal.scenarios.growth: no such key in the schema",
    ]
