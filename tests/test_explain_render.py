"""Tests of the plain-text renderers and the per-tuner Markdown section.

Golden files in tests/golden/explain/ pin each picture in ASCII and Unicode
mode. After an intended change to a renderer, rewrite them with

    TUNESCOPE_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_explain_render.py

and review the diff of tests/golden/explain/ before committing it.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from tunescope.core.config import Objective
from tunescope.core.events import COMPLETED, FAILED, RoundFinished, TrialFinished
from tunescope.core.explain import (
    BestSoFar,
    BoundHistory,
    Importance,
    ObjectiveGrid,
    best_so_far,
    bound_history,
    explain_tuner,
    explainability_summary,
    format_number,
    objective_grid,
    render_best_so_far,
    render_bound_history,
    render_grid,
    render_importance,
    smoothed_grid,
    tuner_explanation_markdown,
)
from tunescope.core.explain.ascii import ASCII_EMPTY, ASCII_RAMP, UNICODE_EMPTY, UNICODE_RAMP
from tunescope.core.space import HyperParameter, SearchSpace

GOLDEN_DIR = Path(__file__).parent / "golden" / "explain"
UPDATE_GOLDEN = os.environ.get("TUNESCOPE_UPDATE_GOLDEN") == "1"

SPACE = SearchSpace(
    (
        HyperParameter("num_layers", "int", 2, 10),
        HyperParameter("nodes_dense", "int", 64, 512),
        HyperParameter("learning_rate", "log", 1e-4, 1e-2),
        HyperParameter("activation", "choice", values=("relu", "tanh", "sigmoid")),
    )
)
OBJECTIVE = Objective("val_accuracy", "max")
MODES = [pytest.param(True, id="ascii"), pytest.param(False, id="unicode")]


def assert_golden(name: str, text: str) -> None:
    path = GOLDEN_DIR / f"{name}.txt"
    if UPDATE_GOLDEN:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
        return
    assert path.exists(), f"golden file {path} is missing; write it with TUNESCOPE_UPDATE_GOLDEN=1"
    assert text + "\n" == path.read_text(encoding="utf-8")


def assert_fits(text: str, columns: int = 80) -> None:
    for line in text.splitlines():
        assert len(line) <= columns, f"{len(line)} columns: {line!r}"
        assert line == line.rstrip(), f"trailing spaces: {line!r}"


def mode_name(ascii_only: bool) -> str:
    return "ascii" if ascii_only else "unicode"


def lattice_trials(tuner: str = "random", shift: float = 0.0) -> list[TrialFinished]:
    """30 deterministic trials spread over the space; accuracy peaks at a learning rate of 1e-3."""
    trials = []
    for number in range(1, 31):
        learning_rate = 10 ** (-4 + 2 * ((number * 7) % 30) / 29)
        num_layers = 2 + (number * 4 + number // 9) % 9
        hps = {
            "num_layers": num_layers,
            "nodes_dense": 64 + (number * 13) % 449,
            "learning_rate": learning_rate,
            "activation": ("relu", "tanh", "sigmoid")[number % 3],
        }
        accuracy = 0.95 - 0.08 * (math.log10(learning_rate) + 3) ** 2 - 0.005 * num_layers + shift
        failed = number % 10 == 0
        trials.append(
            TrialFinished(
                tuner=tuner,
                trial_id=f"{tuner}-{number}",
                number=number,
                status=FAILED if failed else COMPLETED,
                hyperparameters=hps,
                objective=None if failed else round(accuracy, 4),
                fit_seconds=3.0,
                time=1000.0 + 4 * number + (2 if tuner != "random" else 0),
            )
        )
    return trials


def aisara_rounds() -> list[RoundFinished]:
    return [
        RoundFinished(
            tuner="aisara",
            round=1,
            bounds={"num_layers": [2, 10], "nodes_dense": [64, 512], "learning_rate": [1e-4, 1e-2]},
            next_bounds={"num_layers": [2, 6], "nodes_dense": [128, 384], "learning_rate": [3e-4, 3e-3]},
            impacts={"num_layers": 0.21, "nodes_dense": 0.12, "learning_rate": 0.67},
            predicted_best={},
            time=2000.0,
        ),
        RoundFinished(
            tuner="aisara",
            round=2,
            bounds={"num_layers": [2, 6], "nodes_dense": [128, 384], "learning_rate": [3e-4, 3e-3]},
            next_bounds={},
            impacts={"num_layers": 0.3, "learning_rate": 0.6},
            predicted_best={},
            time=2100.0,
        ),
    ]


HAND_IMPORTANCE = Importance(
    {"learning_rate": 0.6625, "nodes_dense": 0.1525, "activation": 0.105, "num_layers": 0.08},
    "extra-trees impurity importance (64 trees)",
    27,
)


# ---------------------------------------------------------------- golden files


@pytest.mark.parametrize("ascii_only", MODES)
def test_importance_golden(ascii_only):
    text = render_importance(HAND_IMPORTANCE, ascii_only=ascii_only)

    assert_golden(f"importance_{mode_name(ascii_only)}", text)


@pytest.mark.parametrize("ascii_only", MODES)
def test_grid_log_int_golden(ascii_only):
    grid = objective_grid(lattice_trials(), SPACE, "learning_rate", "num_layers", OBJECTIVE)

    assert_golden(f"grid_log_int_{mode_name(ascii_only)}", render_grid(grid, ascii_only=ascii_only))


@pytest.mark.parametrize("ascii_only", MODES)
def test_grid_choice_mean_golden(ascii_only):
    grid = objective_grid(lattice_trials(), SPACE, "activation", "nodes_dense", OBJECTIVE, bins=(12, 4))

    text = render_grid(grid, ascii_only=ascii_only, which="mean")

    assert_golden(f"grid_choice_mean_{mode_name(ascii_only)}", text)


@pytest.mark.parametrize("ascii_only", MODES)
def test_grid_strip_golden(ascii_only):
    grid = objective_grid(lattice_trials(), SPACE, "learning_rate", None, Objective("val_loss", "min"))

    assert_golden(f"grid_strip_{mode_name(ascii_only)}", render_grid(grid, ascii_only=ascii_only))


@pytest.mark.parametrize("ascii_only", MODES)
def test_best_so_far_trial_golden(ascii_only):
    series = [best_so_far(lattice_trials("random"), OBJECTIVE), best_so_far(lattice_trials("aisara", -0.05), OBJECTIVE)]

    text = render_best_so_far(series, ascii_only=ascii_only)

    assert_golden(f"best_so_far_trial_{mode_name(ascii_only)}", text)


@pytest.mark.parametrize("ascii_only", MODES)
def test_best_so_far_time_golden(ascii_only):
    series = [best_so_far(lattice_trials("random"), OBJECTIVE), best_so_far(lattice_trials("aisara", -0.05), OBJECTIVE)]

    text = render_best_so_far(series, width=50, height=6, by="time", ascii_only=ascii_only)

    assert_golden(f"best_so_far_time_{mode_name(ascii_only)}", text)


@pytest.mark.parametrize("ascii_only", MODES)
def test_bound_history_golden(ascii_only):
    history = bound_history(aisara_rounds(), SPACE)

    assert_golden(f"bounds_{mode_name(ascii_only)}", render_bound_history(history, ascii_only=ascii_only))


@pytest.mark.parametrize("ascii_only", MODES)
def test_markdown_golden(ascii_only):
    trials = lattice_trials("random") + lattice_trials("aisara", -0.05)

    text = tuner_explanation_markdown("aisara", trials, aisara_rounds(), SPACE, OBJECTIVE, ascii_only=ascii_only)

    assert_golden(f"markdown_{mode_name(ascii_only)}", text.rstrip("\n"))


# ---------------------------------------------------------------- picture content


def two_cell_grid(direction: str) -> ObjectiveGrid:
    return ObjectiveGrid(
        x="dropout",
        y="",
        x_edges=(0.0, 0.1, 0.2, 0.3),
        y_edges=(),
        x_log=False,
        y_log=False,
        best=((0.1, None, 0.9),),
        mean=((0.1, None, 0.5),),
        count=((1, 0, 2),),
        direction=direction,
        metric="score",
    )


def strip_cells(text: str, vertical: str) -> str:
    row = next(line for line in text.splitlines() if vertical in line)
    return row.split(vertical)[1]


@pytest.mark.parametrize(
    ("direction", "ascii_only", "expected"),
    [
        ("max", True, ASCII_RAMP[0] * 4 + ASCII_EMPTY * 4 + ASCII_RAMP[-1] * 4),
        ("min", True, ASCII_RAMP[-1] * 4 + ASCII_EMPTY * 4 + ASCII_RAMP[0] * 4),
        ("max", False, UNICODE_RAMP[0] * 4 + UNICODE_EMPTY * 4 + UNICODE_RAMP[-1] * 4),
        ("min", False, UNICODE_RAMP[-1] * 4 + UNICODE_EMPTY * 4 + UNICODE_RAMP[0] * 4),
    ],
)
def test_grid_denser_is_better(direction, ascii_only, expected):
    text = render_grid(two_cell_grid(direction), ascii_only=ascii_only)

    assert strip_cells(text, "|" if ascii_only else "│") == expected


def test_grid_empty_mark_not_in_ramp():
    assert ASCII_EMPTY not in ASCII_RAMP
    assert UNICODE_EMPTY not in UNICODE_RAMP


def test_grid_mean_differs_from_best():
    best = render_grid(two_cell_grid("max"), ascii_only=True, which="best")
    mean = render_grid(two_cell_grid("max"), ascii_only=True, which="mean")

    assert "best 0.9" in best
    assert "best 0.5" in mean


def test_grid_rejects_unknown_summary():
    with pytest.raises(ValueError, match="which"):
        render_grid(two_cell_grid("max"), which="median")


def test_grid_axis_labels_in_units():
    grid = objective_grid([], SPACE, "learning_rate", "num_layers", OBJECTIVE)

    text = render_grid(grid, ascii_only=True)

    assert "1e-4" in text
    assert "1e-2" in text
    assert "learning_rate (log scale)" in text
    assert "2..3" in text


def test_grid_all_empty_legend():
    text = render_grid(objective_grid([], SPACE, "learning_rate", "num_layers", OBJECTIVE), ascii_only=True)

    assert '"." = no trial' in text


def test_grid_smoothed_title():
    grid = smoothed_grid(lattice_trials(), SPACE, "learning_rate", "nodes_dense", OBJECTIVE)

    text = render_grid(grid, ascii_only=True)

    assert "predicted by a surrogate" in text
    assert ASCII_EMPTY not in strip_cells(text, "|")
    assert_fits(text)


def test_grid_legend_tells_close_values_apart():
    grid = ObjectiveGrid(
        x="dropout",
        y="",
        x_edges=(0.0, 0.25, 0.5),
        y_edges=(),
        x_log=False,
        y_log=False,
        best=((-123456.0, -123417.0),),
        mean=((-123456.0, -123417.0),),
        count=((1, 1),),
        direction="min",
        metric="loss",
    )

    text = render_grid(grid, ascii_only=True)

    assert "worst -1.23417e5" in text
    assert "best -1.23456e5" in text


def test_importance_unknown_scores():
    importance = Importance({"a": 0.0, "b": 0.0}, "too few trials (1 usable, 3 needed)", 1)

    text = render_importance(importance, ascii_only=True)

    assert "too few trials" in text
    assert "#" not in text
    assert "0.000" not in text
    assert len(text.splitlines()) == 1


def test_best_so_far_no_trials():
    text = render_best_so_far([best_so_far([], OBJECTIVE)], ascii_only=True)

    assert "no completed trials" in text


def test_best_so_far_rejects_unknown_axis():
    with pytest.raises(ValueError, match="by"):
        render_best_so_far([], by="epoch")


def test_bound_history_no_rounds():
    text = render_bound_history(bound_history([], SPACE), ascii_only=True)

    assert "no rounds recorded" in text


def test_bound_history_bar_marks_interval():
    history = BoundHistory(
        tuner="aisara",
        rounds=(1,),
        bounds={"dropout": ((0.25, 0.5),)},
        impacts={"dropout": (math.nan,)},
        log_scale={"dropout": False},
        ranges={"dropout": (0.0, 0.5)},
    )

    text = render_bound_history(history, ascii_only=True)

    assert "|" + " " * 15 + "#" * 15 + "|" in text
    assert "impact n/a" in text


@pytest.mark.parametrize(
    ("value", "log", "expected"),
    [
        (0.0, False, "0"),
        (1e-4, True, "1e-4"),
        (3.16227766e-4, True, "3.16e-4"),
        (64.0, False, "64"),
        (0.91234, False, "0.912"),
        (1234.5, False, "1234"),
        (2e-5, False, "2e-5"),
    ],
)
def test_format_number_cases(value, log, expected):
    assert format_number(value, log) == expected


# ---------------------------------------------------------------- 80 columns


LONG_SPACE = SearchSpace(
    (
        HyperParameter("learning_rate_of_the_second_optimizer_phase", "log", 1e-6, 1e-1),
        HyperParameter(
            "kernel_initializer",
            "choice",
            values=("glorot_uniform_with_long_suffix", "he_normal", "lecun_normal", "zeros"),
        ),
        HyperParameter("a_rather_long_dropout_rate_name", "float", -0.00012, 0.5),
    )
)


def long_trials() -> list[TrialFinished]:
    trials = []
    for number in range(1, 41):
        hps = {
            "learning_rate_of_the_second_optimizer_phase": 10 ** (-6 + 5 * ((number * 7) % 40) / 39),
            "kernel_initializer": LONG_SPACE.get("kernel_initializer").values[number % 4],
            "a_rather_long_dropout_rate_name": 0.5 * ((number * 3) % 40) / 39,
        }
        trials.append(
            TrialFinished(
                tuner="a_tuner_with_a_long_name_for_the_legend",
                trial_id=str(number),
                number=number,
                status=COMPLETED,
                hyperparameters=hps,
                objective=-123456.789 + number,
                fit_seconds=1.0,
                time=5000.0 + 3 * number,
            )
        )
    return trials


@pytest.mark.parametrize("ascii_only", MODES)
def test_renders_fit_80_columns(ascii_only):
    trials = long_trials()
    names = LONG_SPACE.names
    objective = Objective("a_very_long_custom_metric_name_for_checking_wrapping", "min")
    importance = Importance({name: 1 / 3 for name in names}, "extra-trees impurity importance (64 trees)", 40)
    long_named = BestSoFar("x" * 70, objective.metric, "min", ((1, 2.0),), ((1.0, 2.0),))
    series = [best_so_far(trials, objective), long_named]
    rounds = [
        RoundFinished(
            tuner="t",
            round=r,
            bounds={names[0]: [1e-6, 10 ** (-1 - r)], names[2]: [-0.0001, 0.4]},
            next_bounds={},
            impacts={names[0]: 0.5},
            predicted_best={},
        )
        for r in range(1, 12)
    ]

    pictures = [
        render_importance(importance, width=200, ascii_only=ascii_only),
        render_grid(
            objective_grid(trials, LONG_SPACE, names[0], names[1], objective, bins=(60, 8)), ascii_only=ascii_only
        ),
        render_grid(objective_grid(trials, LONG_SPACE, names[1], names[2], objective), ascii_only=ascii_only),
        render_grid(objective_grid(trials, LONG_SPACE, names[2], names[0], objective), ascii_only=ascii_only),
        render_grid(objective_grid(trials, LONG_SPACE, names[1], None, objective), ascii_only=ascii_only),
        render_best_so_far(series, width=200, height=30, ascii_only=ascii_only),
        render_best_so_far(series, by="time", ascii_only=ascii_only),
        render_bound_history(bound_history(rounds, LONG_SPACE), ascii_only=ascii_only),
    ]

    for picture in pictures:
        assert_fits(picture)


def test_markdown_fits_80_columns():
    trials = long_trials()
    objective = Objective("a_very_long_custom_metric_name_for_checking_wrapping", "min")

    text = tuner_explanation_markdown("a_tuner_with_a_long_name_for_the_legend", trials, [], LONG_SPACE, objective)

    assert_fits(text)


# ---------------------------------------------------------------- Markdown section


def test_markdown_sections():
    trials = lattice_trials("random") + lattice_trials("aisara", -0.05)

    text = tuner_explanation_markdown("aisara", trials, aisara_rounds(), SPACE, OBJECTIVE)

    assert text.startswith("### Explainability: aisara\n")
    assert "27 of 30 trials completed" in text
    assert "Hyperparameter importance:" in text
    assert "Heat map over the two most important hyperparameters:" in text
    assert "best val_accuracy per cell over learning_rate and num_layers" in text
    assert "Best so far:" in text
    assert "Bounds searched per round:" in text
    assert text.count("```") == 8


def test_markdown_uses_own_trials():
    trials = lattice_trials("random") + lattice_trials("aisara", -0.05)

    text = tuner_explanation_markdown("random", trials, aisara_rounds(), SPACE, OBJECTIVE)

    assert "27 of 30 trials completed" in text
    assert "* random" in text
    assert "aisara" not in text
    assert "Bounds searched per round" not in text


def test_markdown_strip_for_one_varying_hyperparameter():
    space = SearchSpace((HyperParameter("learning_rate", "log", 1e-4, 1e-2), HyperParameter("units", "int", 32, 32)))

    text = tuner_explanation_markdown("random", lattice_trials(), [], space, OBJECTIVE, heading_level=2)

    assert text.startswith("## Explainability: random\n")
    assert "Strip over the only hyperparameter that varies:" in text
    assert "best val_accuracy per cell over learning_rate (max" in text


def test_markdown_unknown_importance_caption():
    trials = lattice_trials()[:2]

    text = tuner_explanation_markdown("random", trials, [], SPACE, OBJECTIVE)

    assert "too few trials" in text
    assert "Heat map over the first two hyperparameters that vary (importance unknown):" in text
    assert "best val_accuracy per cell over num_layers and nodes_dense" in text


def test_markdown_without_trials():
    text = tuner_explanation_markdown("grid", [], [], SPACE, OBJECTIVE)

    assert "0 of 0 trials completed" in text
    assert "nothing to explain" in text
    assert "```" not in text


@pytest.mark.parametrize(
    ("tuner_type", "has_rounds", "expected"),
    [
        ("random", False, "3 pictures"),
        ("aisara", True, "4 pictures"),
        ("aisara", False, "3, no rounds"),
        ("bayesian", False, "3 pictures"),
    ],
)
def test_explainability_summary_cases(tuner_type, has_rounds, expected):
    assert explainability_summary(tuner_type, has_rounds) == expected


@pytest.mark.parametrize(
    ("tuner_type", "has_rounds", "pictures", "expected"),
    [
        ("random", False, 2, "2 pictures"),
        ("random", False, 1, "1 picture"),
        ("grid", False, 0, "0 pictures"),
        ("aisara", False, 2, "2, no rounds"),
    ],
)
def test_explainability_summary_counts(tuner_type, has_rounds, pictures, expected):
    assert explainability_summary(tuner_type, has_rounds, pictures) == expected


def test_explain_tuner_all_pictures():
    trials = lattice_trials("aisara")

    explanation = explain_tuner("aisara", trials, aisara_rounds(), SPACE, OBJECTIVE)

    assert explanation.pictures == ("importance", "heat map", "best-so-far curve", "bounds per round")
    ranked = [name for name, _ in explanation.importance.ranked()]
    assert explanation.heat_map_pair == (ranked[0], ranked[1])


def test_explain_tuner_too_few_trials():
    explanation = explain_tuner("random", lattice_trials()[:3], [], SPACE, OBJECTIVE)

    assert not explanation.importance.known
    assert explanation.pictures == ("heat map", "best-so-far curve")
    assert explanation.heat_map_pair == ("num_layers", "nodes_dense")


def test_explain_tuner_without_trials():
    explanation = explain_tuner("grid", [], [], SPACE, OBJECTIVE)

    assert explanation.pictures == ()
    assert explanation.heat_map_pair is None


def test_markdown_unknown_importance_has_no_bars():
    text = tuner_explanation_markdown("random", lattice_trials()[:3], [], SPACE, OBJECTIVE)

    assert "importance: too few trials" in text
    assert "0.000" not in text
