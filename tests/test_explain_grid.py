"""Tests of objective grids (tunescope.core.explain.grid), by exact value."""

from __future__ import annotations

import math

import pytest

from tunescope.core.config import Objective
from tunescope.core.events import COMPLETED, FAILED, TrialFinished
from tunescope.core.explain import objective_grid, smoothed_grid
from tunescope.core.space import HyperParameter, SearchSpace

SPACE = SearchSpace(
    (
        HyperParameter("learning_rate", "log", 1e-4, 1e-2),
        HyperParameter("dropout", "float", 0.0, 0.5),
        HyperParameter("num_layers", "int", 1, 3),
        HyperParameter("nodes_dense", "int", 64, 512),
        HyperParameter("width", "int", 2, 10, step=4),
        HyperParameter("activation", "choice", values=("relu", "tanh")),
        HyperParameter("fixed", "float", 0.3, 0.3),
    )
)
MAX = Objective("val_accuracy", "max")
MIN = Objective("val_loss", "min")


def make_trial(number: int, hyperparameters: dict, objective: float | None, status: str = COMPLETED) -> TrialFinished:
    return TrialFinished(
        tuner="random",
        trial_id=f"t{number}",
        number=number,
        status=status,
        hyperparameters=hyperparameters,
        objective=objective,
        time=1000.0 + number,
    )


def trials_at(*rows: tuple[dict, float]) -> list[TrialFinished]:
    return [make_trial(number, hps, objective) for number, (hps, objective) in enumerate(rows, start=1)]


def test_grid_log_edges():
    grid = objective_grid([], SPACE, "learning_rate", "dropout", MAX, bins=(2, 5))

    assert grid.x_edges == (1e-4, 1e-3, 1e-2)
    assert grid.x_log is True
    assert grid.y_edges == (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
    assert grid.y_log is False
    assert grid.x_values == ()


def test_grid_log_edges_geometric():
    grid = objective_grid([], SPACE, "learning_rate", "dropout", MAX, bins=(4, 1))

    assert grid.x_edges == (1e-4, 3.16227766017e-4, 1e-3, 3.16227766017e-3, 1e-2)


def test_grid_default_bins():
    grid = objective_grid([], SPACE, "learning_rate", "nodes_dense", MAX)

    assert len(grid.x_edges) == 13
    assert len(grid.y_edges) == 9
    assert len(grid.best) == 8
    assert all(len(row) == 12 for row in grid.best)


def test_grid_empty_cells_are_none():
    grid = objective_grid([], SPACE, "learning_rate", "dropout", MAX, bins=(2, 2))

    assert grid.best == ((None, None), (None, None))
    assert grid.mean == ((None, None), (None, None))
    assert grid.count == ((0, 0), (0, 0))
    assert grid.value_range is None


def test_grid_cell_values_max():
    trials = trials_at(
        ({"learning_rate": 2e-4, "dropout": 0.1}, 0.5),
        ({"learning_rate": 5e-4, "dropout": 0.2}, 0.7),
        ({"learning_rate": 5e-3, "dropout": 0.4}, 0.9),
    )

    grid = objective_grid(trials, SPACE, "learning_rate", "dropout", MAX, bins=(2, 2))

    assert grid.best == ((0.7, None), (None, 0.9))
    assert grid.mean == ((0.6, None), (None, 0.9))
    assert grid.count == ((2, 0), (0, 1))
    assert grid.direction == "max"
    assert grid.metric == "val_accuracy"
    assert grid.value_range == (0.6, 0.9)


def test_grid_cell_values_min():
    trials = trials_at(
        ({"learning_rate": 2e-4, "dropout": 0.1}, 0.5),
        ({"learning_rate": 5e-4, "dropout": 0.2}, 0.7),
    )

    grid = objective_grid(trials, SPACE, "learning_rate", "dropout", MIN, bins=(2, 2))

    assert grid.best[0][0] == 0.5
    assert grid.mean[0][0] == 0.6
    assert grid.direction == "min"


def test_grid_edge_values():
    # Lower edges open a bin, an interior edge starts the upper bin, the top edge stays in the last bin.
    trials = trials_at(
        ({"learning_rate": 1e-4, "dropout": 0.0}, 0.1),
        ({"learning_rate": 1e-3, "dropout": 0.25}, 0.2),
        ({"learning_rate": 1e-2, "dropout": 0.5}, 0.3),
    )

    grid = objective_grid(trials, SPACE, "learning_rate", "dropout", MAX, bins=(2, 2))

    assert grid.best == ((0.1, None), (None, 0.3))
    assert grid.count == ((1, 0), (0, 2))


def test_grid_fine_edges_exact():
    # 0.3 sits on an edge of 5 dropout bins; rounding must not push it into the bin below.
    trials = trials_at(({"learning_rate": 1e-4, "dropout": 0.3}, 0.5))

    grid = objective_grid(trials, SPACE, "learning_rate", "dropout", MAX, bins=(1, 5))

    assert [row[0] for row in grid.count] == [0, 0, 0, 1, 0]


def test_grid_skips_unusable_values():
    trials = trials_at(
        ({"learning_rate": 5e-4, "dropout": 0.1}, 0.5),
        ({"dropout": 0.1}, 0.9),
        ({"learning_rate": math.nan, "dropout": 0.1}, 0.9),
        ({"learning_rate": None, "dropout": 0.1}, 0.9),
        ({"learning_rate": "fast", "dropout": 0.1}, 0.9),
        ({"learning_rate": 5e-4, "dropout": 0.7}, 0.9),
        ({"learning_rate": -1.0, "dropout": 0.1}, 0.9),
        ({"learning_rate": 5e-4, "dropout": 0.1}, math.nan),
    )
    trials.append(make_trial(20, {"learning_rate": 5e-4, "dropout": 0.1}, None, status=FAILED))
    trials.append(make_trial(21, {"learning_rate": 5e-4, "dropout": 0.1}, 0.9, status="cancelled"))

    grid = objective_grid(trials, SPACE, "learning_rate", "dropout", MAX, bins=(1, 1))

    assert grid.count == ((1,),)
    assert grid.best == ((0.5,),)


def test_grid_int_axis_one_bin_per_value():
    trials = trials_at(({"num_layers": 1, "dropout": 0.0}, 0.2), ({"num_layers": 3, "dropout": 0.0}, 0.4))

    grid = objective_grid(trials, SPACE, "num_layers", "dropout", MAX, bins=(8, 1))

    assert grid.x_values == (1, 2, 3)
    assert grid.x_edges == (0.5, 1.5, 2.5, 3.5)
    assert grid.best == ((0.2, None, 0.4),)


def test_grid_int_axis_with_step():
    trials = trials_at(({"width": 6, "dropout": 0.0}, 0.2), ({"width": 10, "dropout": 0.0}, 0.4))

    grid = objective_grid(trials, SPACE, "width", "dropout", MAX, bins=(8, 1))

    assert grid.x_values == (2, 6, 10)
    assert grid.x_edges == (0.0, 4.0, 8.0, 12.0)
    assert grid.best == ((None, 0.2, 0.4),)


def test_grid_int_axis_more_values_than_bins():
    trials = trials_at(({"nodes_dense": 512, "dropout": 0.0}, 0.2), ({"nodes_dense": 64, "dropout": 0.0}, 0.4))

    grid = objective_grid(trials, SPACE, "nodes_dense", "dropout", MAX, bins=(4, 1))

    assert grid.x_values == ()
    assert grid.x_edges == (64.0, 176.0, 288.0, 400.0, 512.0)
    assert grid.best == ((0.4, None, None, 0.2),)


def test_grid_choice_axis():
    trials = trials_at(
        ({"activation": "tanh", "dropout": 0.0}, 0.3),
        ({"activation": "tanh", "dropout": 0.5}, 0.6),
        ({"activation": "gelu", "dropout": 0.0}, 0.9),
    )

    grid = objective_grid(trials, SPACE, "dropout", "activation", MAX, bins=(2, 5))

    assert grid.y_values == ("relu", "tanh")
    assert grid.y_edges == (-0.5, 0.5, 1.5)
    assert grid.best == ((None, None), (0.3, 0.6))
    assert grid.count == ((0, 0), (1, 1))


def test_grid_constant_range_single_bin():
    trials = trials_at(({"fixed": 0.3, "dropout": 0.0}, 0.5), ({"fixed": 0.4, "dropout": 0.0}, 0.9))

    grid = objective_grid(trials, SPACE, "fixed", "dropout", MAX, bins=(6, 1))

    assert grid.x_edges == (0.3, 0.3)
    assert grid.best == ((0.5,),)


def test_grid_strip_without_y():
    trials = trials_at(({"dropout": 0.05}, 0.5), ({"dropout": 0.45}, 0.7))

    grid = objective_grid(trials, SPACE, "dropout", None, MAX, bins=(5, 8))

    assert grid.y == ""
    assert grid.y_edges == ()
    assert grid.best == ((0.5, None, None, None, 0.7),)


def test_grid_rejects_unknown_hyperparameter():
    with pytest.raises(ValueError, match="'momentum' is not in the search space"):
        objective_grid([], SPACE, "momentum", "dropout", MAX)


def test_grid_rejects_same_axis_twice():
    with pytest.raises(ValueError, match="two different hyperparameters"):
        objective_grid([], SPACE, "dropout", "dropout", MAX)


def test_grid_rejects_zero_bins():
    with pytest.raises(ValueError, match="bins"):
        objective_grid([], SPACE, "learning_rate", "dropout", MAX, bins=(0, 4))


def peaked_trials() -> list[TrialFinished]:
    """36 trials on a 6 x 6 lattice whose objective peaks at high dropout."""
    rows = []
    for i in range(6):
        for j in range(6):
            hps = {"learning_rate": 10 ** (-4 + 2 * i / 5), "dropout": 0.5 * j / 5}
            rows.append((hps, 0.5 + 0.8 * hps["dropout"]))
    return trials_at(*rows)


def test_smoothed_grid_fills_every_cell():
    trials = peaked_trials()

    grid = smoothed_grid(trials, SPACE, "learning_rate", "dropout", MAX, bins=(4, 5))

    assert grid.smoothed is True
    assert all(value is not None for row in grid.best for value in row)
    assert grid.best == grid.mean
    assert grid.count == objective_grid(trials, SPACE, "learning_rate", "dropout", MAX, bins=(4, 5)).count


def test_smoothed_grid_follows_objective():
    grid = smoothed_grid(peaked_trials(), SPACE, "learning_rate", "dropout", MAX, bins=(4, 5))

    column = [row[1] for row in grid.best]
    assert column == sorted(column)
    assert column[-1] - column[0] > 0.2


def test_smoothed_grid_deterministic():
    first = smoothed_grid(peaked_trials(), SPACE, "learning_rate", "dropout", MAX, bins=(4, 5))
    again = smoothed_grid(peaked_trials(), SPACE, "learning_rate", "dropout", MAX, bins=(4, 5))

    assert first == again


def test_smoothed_grid_choice_axis():
    trials = trials_at(
        *(({"activation": "relu", "dropout": d / 10}, 0.9) for d in range(5)),
        *(({"activation": "tanh", "dropout": d / 10}, 0.4) for d in range(5)),
    )

    grid = smoothed_grid(trials, SPACE, "dropout", "activation", MAX, bins=(3, 1))

    assert all(relu > tanh for relu, tanh in zip(grid.best[0], grid.best[1]))


def test_smoothed_grid_thins_large_searches():
    rows = []
    for number in range(400):
        hps = {
            "learning_rate": 10 ** (-4 + 2 * ((number * 37) % 400) / 399),
            "dropout": 0.5 * ((number * 53) % 400) / 399,
        }
        rows.append((hps, 0.5 + 0.8 * hps["dropout"]))
    trials = trials_at(*rows)

    grid = smoothed_grid(trials, SPACE, "learning_rate", "dropout", MAX, bins=(3, 3))

    assert grid.smoothed is True
    assert sum(map(sum, grid.count)) == 400
    assert grid.best[2][1] > grid.best[0][1]


def test_smoothed_grid_too_few_trials():
    trials = trials_at(({"learning_rate": 2e-4, "dropout": 0.1}, 0.5), ({"learning_rate": 5e-3, "dropout": 0.4}, 0.7))

    grid = smoothed_grid(trials, SPACE, "learning_rate", "dropout", MAX, bins=(2, 2))

    assert grid.smoothed is False
    assert grid.best == ((0.5, None), (None, 0.7))
