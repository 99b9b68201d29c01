"""Tests of best-so-far series and AiSara bound history (tunescope.core.explain)."""

from __future__ import annotations

import math

import pytest

from tunescope.core.config import Objective
from tunescope.core.events import CANCELLED, COMPLETED, FAILED, RoundFinished, TrialFinished
from tunescope.core.explain import best_so_far, bound_history
from tunescope.core.space import HyperParameter, SearchSpace

SPACE = SearchSpace(
    (
        HyperParameter("num_layers", "int", 2, 10),
        HyperParameter("learning_rate", "log", 1e-4, 1e-2),
        HyperParameter("activation", "choice", values=("relu", "tanh")),
        HyperParameter("dropout", "float", 0.0, 0.5),
    )
)


def make_trial(
    number: int,
    objective: float | None,
    end: float,
    fit_seconds: float = 1.0,
    status: str = COMPLETED,
    tuner: str = "random",
) -> TrialFinished:
    return TrialFinished(
        tuner=tuner,
        trial_id=f"t{number}",
        number=number,
        status=status,
        hyperparameters={},
        objective=objective,
        fit_seconds=fit_seconds,
        time=end,
    )


def make_round(number: int, bounds: dict, impacts: dict, tuner: str = "aisara") -> RoundFinished:
    return RoundFinished(
        tuner=tuner,
        round=number,
        bounds=bounds,
        next_bounds={},
        impacts=impacts,
        predicted_best={},
        time=2000.0 + number,
    )


def test_best_so_far_max():
    trials = [
        make_trial(1, 0.5, end=102.0, fit_seconds=2.0),
        make_trial(2, 0.7, end=104.0),
        make_trial(3, 0.6, end=106.0),
        make_trial(4, None, end=107.0, status=FAILED),
        make_trial(5, 0.9, end=110.0),
    ]

    series = best_so_far(trials, Objective("val_accuracy", "max"))

    assert series.tuner == "random"
    assert series.metric == "val_accuracy"
    assert series.direction == "max"
    assert series.by_trial == ((1, 0.5), (2, 0.7), (3, 0.7), (5, 0.9))
    assert series.by_time == ((2.0, 0.5), (4.0, 0.7), (6.0, 0.7), (10.0, 0.9))
    assert series.best == 0.9


def test_best_so_far_min():
    trials = [make_trial(1, 0.8, end=10.0), make_trial(2, 0.9, end=20.0), make_trial(3, 0.3, end=30.0)]

    series = best_so_far(trials, Objective("val_loss", "min"))

    assert series.by_trial == ((1, 0.8), (2, 0.8), (3, 0.3))
    assert series.best == 0.3


def test_best_so_far_skips_unusable():
    trials = [
        make_trial(1, 0.4, end=10.0),
        make_trial(2, None, end=11.0, status=FAILED),
        make_trial(3, 0.99, end=12.0, status=CANCELLED),
        make_trial(4, math.nan, end=13.0),
        make_trial(5, 0.5, end=14.0),
    ]

    series = best_so_far(trials, Objective())

    assert series.by_trial == ((1, 0.4), (5, 0.5))


def test_best_so_far_time_order():
    # Trial 2 ended before trial 1 (parallel workers): by_time follows end time, by_trial the number.
    trials = [make_trial(2, 0.6, end=15.0), make_trial(1, 0.8, end=20.0)]

    series = best_so_far(trials, Objective(), start=10.0)

    assert series.by_trial == ((1, 0.8), (2, 0.8))
    assert series.by_time == ((5.0, 0.6), (10.0, 0.8))


def test_best_so_far_default_start():
    # The earliest start is the failed trial's: 50 s end minus 30 s fit.
    trials = [
        make_trial(1, 0.5, end=60.0, fit_seconds=5.0),
        make_trial(2, None, end=50.0, fit_seconds=30.0, status=FAILED),
    ]

    series = best_so_far(trials, Objective())

    assert series.by_time == ((40.0, 0.5),)


def test_best_so_far_empty():
    series = best_so_far([], Objective())

    assert series.tuner == ""
    assert series.by_trial == ()
    assert series.by_time == ()
    assert series.best is None


def test_best_so_far_rejects_mixed_tuners():
    trials = [make_trial(1, 0.5, end=10.0), make_trial(2, 0.6, end=11.0, tuner="bayesian")]

    with pytest.raises(ValueError, match="several tuners"):
        best_so_far(trials, Objective())


def test_bound_history_values():
    rounds = [
        make_round(2, {"learning_rate": [3e-4, 3e-3], "num_layers": [4, 8]}, {"learning_rate": 0.6, "num_layers": 0.3}),
        make_round(
            1, {"learning_rate": [1e-4, 1e-2], "num_layers": [2, 10]}, {"learning_rate": 0.7, "num_layers": 0.2}
        ),
    ]

    history = bound_history(rounds, SPACE)

    assert history.tuner == "aisara"
    assert history.rounds == (1, 2)
    assert history.bounds == {
        "num_layers": ((2.0, 10.0), (4.0, 8.0)),
        "learning_rate": ((1e-4, 1e-2), (3e-4, 3e-3)),
    }
    assert history.impacts == {"num_layers": (0.2, 0.3), "learning_rate": (0.7, 0.6)}
    assert history.log_scale == {"num_layers": False, "learning_rate": True}
    assert history.ranges == {"num_layers": (2.0, 10.0), "learning_rate": (1e-4, 1e-2)}


def test_bound_history_missing_entries():
    rounds = [
        make_round(1, {"learning_rate": [1e-4, 1e-2], "dropout": [0.0, 0.5]}, {"learning_rate": 0.7}),
        make_round(2, {"learning_rate": [3e-4, 3e-3]}, {"learning_rate": 0.6, "dropout": 0.1}),
    ]

    history = bound_history(rounds, SPACE)

    assert list(history.bounds) == ["learning_rate", "dropout"]
    assert history.bounds["dropout"] == ((0.0, 0.5), (0.0, 0.5))
    assert math.isnan(history.impacts["dropout"][0])
    assert history.impacts["dropout"][1] == 0.1


def test_bound_history_skips_choice_and_unknown():
    rounds = [make_round(1, {"activation": [0, 1], "momentum": [0.1, 0.9], "dropout": [0.1, 0.2]}, {})]

    history = bound_history(rounds, SPACE)

    assert list(history.bounds) == ["dropout"]
    assert list(history.log_scale) == ["dropout"]


def test_bound_history_repeated_round():
    rounds = [
        make_round(1, {"dropout": [0.0, 0.5]}, {}),
        make_round(1, {"dropout": [0.1, 0.3]}, {}),
    ]

    history = bound_history(rounds, SPACE)

    assert history.rounds == (1,)
    assert history.bounds["dropout"] == ((0.1, 0.3),)


def test_bound_history_empty():
    history = bound_history([], SPACE)

    assert history.tuner == ""
    assert history.rounds == ()
    assert history.bounds == {}


def test_bound_history_rejects_mixed_tuners():
    rounds = [make_round(1, {"dropout": [0.0, 0.5]}, {}), make_round(2, {"dropout": [0.0, 0.5]}, {}, tuner="other")]

    with pytest.raises(ValueError, match="several tuners"):
        bound_history(rounds, SPACE)
