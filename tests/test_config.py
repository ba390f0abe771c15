"""Configuration errors name the key path; paths resolve relative to the config file."""

from __future__ import annotations

from pathlib import Path

import pytest

from transforms.config import ConfigError, load_config

MINIMAL = """
name = "t"
[inputs.households]
path = "hh.csv"
[inputs.households.columns]
hh_id = "id"
region = "reg"
hh_size = "n"
welfare = "y"
[poverty_line]
method = "relative_percentile"
percentile = 0.2
"""


def write(tmp_path: Path, text: str, *, with_data: bool = True) -> Path:
    if with_data:
        (tmp_path / "hh.csv").write_text("id,reg,n,y\n1,A,2,10\n")
    path = tmp_path / "audit.toml"
    path.write_text(text)
    return path


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return str(caught.value)


def test_minimal_config_resolves_paths_relative_to_the_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL))
    assert config.inputs.households.path == (tmp_path / "hh.csv").resolve()
    assert config.output.warehouse == (tmp_path / "welfare_audit.duckdb").resolve()
    assert config.models.folds == 5
    assert config.disclosure.min_cell_n == 10


def test_unknown_key_names_its_path(tmp_path: Path) -> None:
    text = MINIMAL.replace('welfare = "y"', 'welfare = "y"\nwelfair = "z"')
    message = error_of(write(tmp_path, text))
    assert "inputs.households.columns.welfair: unknown key" in message


def test_wrong_type_names_path_and_value(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, MINIMAL + "\n[models]\nfolds = 'five'\n"))
    assert "models.folds" in message
    assert "'five'" in message


def test_missing_file_names_the_key_and_the_path(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, MINIMAL, with_data=False))
    assert "inputs.households.path" in message
    assert "file not found" in message
    assert str(tmp_path / "hh.csv") in message


def test_missing_required_key(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, MINIMAL.replace('welfare = "y"\n', "")))
    assert "inputs.households.columns.welfare: required key is missing" in message


def test_a_household_file_needs_a_size_or_members(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, MINIMAL.replace('hh_size = "n"\n', "")))
    assert "map inputs.households.columns.hh_size, give a members file" in message
    assert "got {" not in message  # the whole config is never dumped into the message


def test_method_parameters_are_checked(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, MINIMAL.replace("percentile = 0.2\n", "")))
    assert "poverty_line" in message
    assert "needs percentile" in message


def test_regional_lines_need_a_regions_file(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        'method = "relative_percentile"\npercentile = 0.2', 'method = "regional"'
    )
    assert "needs inputs.regions.columns.poverty_line" in error_of(write(tmp_path, text))


def test_invalid_toml_and_missing_config(tmp_path: Path) -> None:
    assert "not valid TOML" in error_of(write(tmp_path, "name = [unclosed"))
    assert "configuration file not found" in error_of(tmp_path / "nope.toml")


def test_sample_config_is_valid() -> None:
    sample = Path(__file__).resolve().parents[1] / "data" / "sample" / "audit.toml"
    config = load_config(sample)
    assert (
        config.output.warehouse == sample.parent.parent.joinpath("welfare_audit.duckdb").resolve()
    )


@pytest.mark.parametrize(
    ("proxy", "column"),
    [
        ("head_name", "q1"),
        ("roof", "respondent_phone_number"),
        ("addr", "street_address"),
        ("x", "EMAIL"),
        # the names the first guard missed (a security review, issue #16)
        ("contact", "telephone"),
        ("x", "tel"),
        ("x", "dob"),
        ("x", "lat"),
        ("x", "lon"),
        ("x", "nid"),
        ("x", "cedula"),
        ("x", "hh_identifier"),
        ("x", "nombre_jefe"),
        ("x", "date_of_birth"),
        ("x", "telefono_movil"),
    ],
)
def test_personal_data_mapped_as_a_proxy_is_refused(
    tmp_path: Path, proxy: str, column: str
) -> None:
    text = MINIMAL + f'\n[inputs.households.proxies]\n{proxy} = {{ column = "{column}" }}\n'
    message = error_of(write(tmp_path, text))
    assert "looks like personal data" in message


def test_an_allowed_identifier_like_proxy_is_kept(tmp_path: Path) -> None:
    """The name guard is a heuristic: owning a telephone is an asset, allowed explicitly."""
    proxy = '{ column = "telephone", allow_identifier_proxy = true }'
    text = MINIMAL + f"\n[inputs.households.proxies]\nhas_telephone = {proxy}\n"
    config = load_config(write(tmp_path, text))
    assert config.inputs.households.proxies["has_telephone"].allow_identifier_proxy


def test_asset_counts_are_not_mistaken_for_personal_data(tmp_path: Path) -> None:
    text = MINIMAL + '\n[inputs.households.proxies]\nphones = { column = "q_phone" }\n'
    config = load_config(write(tmp_path, text))
    assert "phones" in config.inputs.households.proxies
