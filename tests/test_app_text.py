"""The setup form's TOML: field text to values, values to experiment TOML, and back."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tunescope.core.config import load_experiment, parse_experiment
from tunescope.core.errors import ConfigError
from tunescope.tui.experiment_text import (
    SettingsSyntaxError,
    experiment_text,
    field_text,
    list_text,
    list_value,
    settings_text,
    settings_value,
    toml_value,
    typed_value,
)
from tunescope.tui.screens.setup_fields import form_location, form_problem
from tunescope.tui.settings import wants_ascii

QUICKSTART = Path(__file__).resolve().parents[1] / "sample_configs" / "quickstart.toml"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10", 10), ("0.2", 0.2), ("1e-4", 1e-4), ("true", True), ("abc", "abc"), ('"10"', "10"), ("  7 ", 7)],
)
def test_typed_value_reads_toml_literals(text: str, expected: object) -> None:
    value = typed_value(text)
    assert value == expected
    assert type(value) is type(expected)


def test_typed_value_empty_is_none() -> None:
    assert typed_value("   ") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("relu, tanh", ["relu", "tanh"]),
        ('"relu", "tanh"', ["relu", "tanh"]),
        ("16, 32, 64", [16, 32, 64]),
        ("[0.1, 0.2]", [0.1, 0.2]),
    ],
)
def test_list_value_reads_bare_and_quoted_items(text: str, expected: list[object]) -> None:
    assert list_value(text) == expected


def test_list_text_round_trips() -> None:
    for values in (["relu", "tanh"], [16, 32], ["16", "a,b"], [0.5, 1e-4]):
        assert list_value(list_text(values)) == values


def test_settings_value_reads_pairs() -> None:
    assert settings_value("factor = 3, hyperband_iterations = 2") == {"factor": 3, "hyperband_iterations": 2}


def test_settings_value_rejects_bare_words() -> None:
    with pytest.raises(SettingsSyntaxError, match="key = value"):
        settings_value("factor 3")


def test_settings_value_names_unquoted_word() -> None:
    with pytest.raises(SettingsSyntaxError) as caught:
        settings_value("factor = 3, facter = x")

    assert str(caught.value) == 'facter = x: x is not a TOML value; quote text as "x"'


def test_settings_value_reads_quoted_word() -> None:
    assert settings_value('facter = "x"') == {"facter": "x"}


def test_settings_text_round_trips() -> None:
    settings = {"trials_per_round": 5, "rounds": "auto", "tie_break": "val_loss"}
    assert settings_value(settings_text(settings)) == settings


@pytest.mark.parametrize("value", [1, 2.5, 1e-4, "a \"quoted\" name", True, [1, 2], ["x", "y"], float("inf")])
def test_toml_value_parses_back(value: object) -> None:
    assert tomllib.loads(f"v = {toml_value(value)}")["v"] == value


def test_field_text_of_none_is_empty() -> None:
    assert field_text(None) == ""


def test_experiment_text_skips_none_and_empty_tables() -> None:
    text = experiment_text({"experiment": {"name": "x", "seed": None}, "budget": {}, "space": [], "tuners": []})
    assert text == '[experiment]\nname = "x"\n'


def test_experiment_text_round_trips_quickstart() -> None:
    data = tomllib.loads(QUICKSTART.read_text(encoding="utf-8"))
    text = experiment_text(data)
    assert tomllib.loads(text) == data
    assert parse_experiment(text).space == load_experiment(QUICKSTART).space


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"LANG": "en_US.UTF-8"}, False),
        ({"LC_ALL": "C.utf8", "LANG": "C"}, False),
        ({"LC_ALL": "POSIX", "LANG": "en_US.UTF-8"}, True),
        ({"LC_CTYPE": "en_US.ISO-8859-1"}, True),
        ({}, True),
    ],
)
def test_wants_ascii_follows_locale(environ: dict[str, str], expected: bool) -> None:
    assert wants_ascii(environ) is expected


@pytest.mark.parametrize(
    ("key", "location"),
    [
        ("budget.max_trials", "Trials per tuner"),
        ("dataset.train_size", "Train size"),
        ("space", "Search space"),
        ("space[0] (units).min", "Search space, row 1 (units), min"),
        ("space[2] (x).values", "Search space, row 3 (x), values"),
        ("tuners[0].max_trials", "Tuners, row 1, trials"),
        ("tuners[2].factor", "Tuners, row 3, setting factor"),
        ("tuners[1]", "Tuners, row 2"),
        ("dataset.image_size", "dataset.image_size"),
    ],
)
def test_form_location_names_labels(key: str, location: str) -> None:
    assert form_location(key) == location


@pytest.mark.parametrize(
    ("key", "problem", "worded"),
    [
        (
            "budget.max_trials",
            "expected an integer, got 'abc' (string); write e.g. max_trials = 10",
            "expected an integer, got 'abc' (string); write e.g. 10",
        ),
        ("space[3] (x).min", "missing; add min = ...", "missing; fill it in"),
        (
            "tuners",
            'must be one or more [[tuners]] tables, each with a type such as "random"',
            'must be one or more rows, each with a type such as "random"',
        ),
        ("dataset.train_size", "5 is too small; use 10 or more", "5 is too small; use 10 or more"),
    ],
)
def test_form_problem_drops_toml_syntax(key: str, problem: str, worded: str) -> None:
    assert form_problem(key, problem) == worded


def test_form_problem_words_real_loader_message() -> None:
    text = QUICKSTART.read_text(encoding="utf-8").replace("epochs = ", 'epochs = "six" #')
    with pytest.raises(ConfigError) as caught:
        parse_experiment(text)
    error = caught.value
    assert error.key == "budget.epochs"
    assert form_location(error.key) == "Epochs per trial"
    assert form_problem(error.key, error.problem) == "expected an integer, got 'six' (string); write e.g. 10"
