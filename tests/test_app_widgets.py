"""The app's pictures without the app: heat-map text, status marks, progress estimates."""

from __future__ import annotations

from tunescope.core.config import Objective
from tunescope.core.events import COMPLETED, FAILED, TrialFinished
from tunescope.core.explain.ascii import ASCII_RAMP, UNICODE_RAMP
from tunescope.core.explain.grid import objective_grid
from tunescope.core.space import HyperParameter, SearchSpace
from tunescope.tui.widgets.heat_map import draw_grid, level_of, pairs_of
from tunescope.tui.widgets.trial_table import TrialTable, hyperparameter_text
from tunescope.tui.widgets.tuner_progress import TunerState, seconds_left

SPACE = SearchSpace(
    (
        HyperParameter("units", "int", 1, 3),
        HyperParameter("rate", "log", 1e-4, 1e-2),
        HyperParameter("activation", "choice", values=("relu", "tanh")),
    )
)


def trial(number: int, units: int, activation: str, objective: float | None) -> TrialFinished:
    status = COMPLETED if objective is not None else FAILED
    return TrialFinished(
        "random", f"{number:02d}", number, status, {"units": units, "rate": 1e-3, "activation": activation}, objective=objective
    )


def grid_text(direction: str, ascii_only: bool) -> list[str]:
    trials = [trial(1, 1, "relu", 0.5), trial(2, 3, "tanh", 0.9), trial(3, 2, "relu", 0.75), trial(4, 2, "tanh", None)]
    grid = objective_grid(trials, SPACE, "units", "activation", Objective("val_accuracy", direction))
    return draw_grid(grid, width=60, ascii_only=ascii_only).plain.splitlines()


def test_heat_map_ascii_carries_values() -> None:
    lines = grid_text("max", ascii_only=True)
    tanh_row = next(line for line in lines if line.startswith("tanh"))
    relu_row = next(line for line in lines if line.startswith("relu"))
    # Three columns (units 1, 2, 3) of the widest cells, four characters each.
    assert tanh_row.endswith("|" + "." * 4 + "." * 4 + ASCII_RAMP[-1] * 4 + "|")
    assert relu_row.endswith("|" + ASCII_RAMP[0] * 4 + ASCII_RAMP[5] * 4 + "." * 4 + "|")
    assert all(ord(character) < 128 for line in lines for character in line)


def test_heat_map_min_direction_flips_levels() -> None:
    lines = grid_text("min", ascii_only=False)
    tanh_row = next(line for line in lines if line.startswith("tanh"))
    assert tanh_row.endswith(UNICODE_RAMP[0] * 4 + "│")


def test_heat_map_fits_narrow_width() -> None:
    trials = [trial(1, 1, "relu", 0.5)]
    grid = objective_grid(trials, SPACE, "rate", "units", Objective("val_accuracy", "max"))
    lines = draw_grid(grid, width=30).plain.splitlines()
    assert max(len(line) for line in lines) <= 30


def test_level_of_spans_ramp() -> None:
    assert level_of(0.5, 0.5, 0.9, "max", 8) == 0
    assert level_of(0.9, 0.5, 0.9, "max", 8) == 7
    assert level_of(0.9, 0.5, 0.9, "min", 8) == 0
    assert level_of(0.7, 0.7, 0.7, "max", 8) == 7


def test_pairs_of_space() -> None:
    assert pairs_of(SPACE) == [("units", "rate"), ("units", "activation"), ("rate", "activation")]
    assert pairs_of(SearchSpace((HyperParameter("units", "int", 1, 3),))) == [("units", None)]


def test_status_marks_fall_back_to_ascii() -> None:
    assert TrialTable(ascii_only=True)._status_cell(FAILED).plain == "x FAILED"
    assert TrialTable(ascii_only=False)._status_cell(FAILED).plain == "✗ FAILED"


def test_hyperparameter_text_is_compact() -> None:
    assert hyperparameter_text({"units": 64, "rate": 0.00123, "activation": "relu"}) == "units=64 rate=0.00123 activation=relu"


def test_seconds_left_uses_event_times() -> None:
    state = TunerState("random", max_trials=10, started=100.0, landed=4)
    assert seconds_left(state, now=140.0) == 60.0
    assert seconds_left(TunerState("random", max_trials=10, started=100.0), now=140.0) is None
