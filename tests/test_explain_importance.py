"""Tests of hyperparameter importance (tunescope.core.explain.importance)."""

from __future__ import annotations

import math
import random

import pytest

from tunescope.core.config import Objective
from tunescope.core.events import COMPLETED, FAILED, TrialFinished
from tunescope.core.explain import Importance, compute_importance
from tunescope.core.space import HyperParameter, SearchSpace

SPACE = SearchSpace(
    (
        HyperParameter("num_layers", "int", 2, 10),
        HyperParameter("nodes_dense", "int", 64, 512),
        HyperParameter("learning_rate", "log", 1e-4, 1e-2),
        HyperParameter("activation", "choice", values=("relu", "tanh", "sigmoid")),
        HyperParameter("dropout", "float", 0.0, 0.5),
    )
)
OBJECTIVE = Objective("val_accuracy", "max")


def make_trial(number: int, hyperparameters: dict, objective: float | None, status: str = COMPLETED) -> TrialFinished:
    return TrialFinished(
        tuner="random",
        trial_id=f"t{number:03d}",
        number=number,
        status=status,
        hyperparameters=hyperparameters,
        objective=objective,
        time=1000.0 + number,
    )


def random_trials(n: int, seed: int, score) -> list[TrialFinished]:
    """Trials with every hyperparameter drawn at random and objective `score(hps, rng)`."""
    rng = random.Random(seed)
    trials = []
    for number in range(1, n + 1):
        hps = {p.name: p.from_unit(rng.random()) for p in SPACE}
        trials.append(make_trial(number, hps, score(hps, rng)))
    return trials


def learning_rate_only(hps: dict, rng: random.Random) -> float:
    # A peak at 1e-3 plus a little noise; no other hyperparameter matters.
    return 0.9 - 0.1 * (math.log10(hps["learning_rate"]) + 3) ** 2 + 0.005 * rng.random()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_importance_finds_learning_rate(seed):
    importance = compute_importance(random_trials(60, seed, learning_rate_only), SPACE, OBJECTIVE)

    ranked = importance.ranked()
    assert ranked[0][0] == "learning_rate"
    assert ranked[0][1] > 0.5
    assert ranked[0][1] > 3 * ranked[1][1]


def test_importance_finds_choice():
    def activation_only(hps, rng):
        return {"relu": 0.9, "tanh": 0.7, "sigmoid": 0.5}[hps["activation"]] + 0.005 * rng.random()

    importance = compute_importance(random_trials(60, 3, activation_only), SPACE, OBJECTIVE)

    assert importance.ranked()[0][0] == "activation"


def test_importance_scores_sum_to_one():
    importance = compute_importance(random_trials(40, 4, learning_rate_only), SPACE, OBJECTIVE)

    assert set(importance.scores) == set(SPACE.names)
    assert all(score >= 0 for score in importance.scores.values())
    assert math.isclose(sum(importance.scores.values()), 1.0)
    assert importance.n_trials == 40
    assert "extra-trees" in importance.method


def test_importance_deterministic():
    trials = random_trials(50, 5, learning_rate_only)

    first = compute_importance(trials, SPACE, OBJECTIVE)
    again = compute_importance(trials, SPACE, OBJECTIVE)
    shuffled = list(trials)
    random.Random(9).shuffle(shuffled)
    reordered = compute_importance(shuffled, SPACE, OBJECTIVE)

    assert first == again
    assert first == reordered


def test_importance_direction_irrelevant():
    trials = random_trials(30, 6, learning_rate_only)

    as_max = compute_importance(trials, SPACE, Objective("val_accuracy", "max"))
    as_min = compute_importance(trials, SPACE, Objective("val_accuracy", "min"))

    assert as_max.scores == as_min.scores


def test_importance_too_few_trials():
    trials = random_trials(2, 7, learning_rate_only)
    trials.append(make_trial(3, {"learning_rate": 1e-3}, None, status=FAILED))

    importance = compute_importance(trials, SPACE, OBJECTIVE)

    assert importance.scores == {name: 0.0 for name in SPACE.names}
    assert "too few trials" in importance.method
    assert importance.n_trials == 2


def test_importance_skips_unusable_trials():
    trials = random_trials(20, 8, learning_rate_only)
    trials.append(make_trial(21, {"learning_rate": 1e-3}, None, status=FAILED))
    trials.append(make_trial(22, {"learning_rate": 1e-3}, math.nan))
    trials.append(make_trial(23, {"learning_rate": 1e-3}, math.inf))
    trials.append(make_trial(24, {"learning_rate": 1e-3}, 0.5, status="cancelled"))

    importance = compute_importance(trials, SPACE, OBJECTIVE)

    assert importance.n_trials == 20


def test_importance_constant_objective():
    trials = random_trials(10, 10, lambda hps, rng: 0.5)

    importance = compute_importance(trials, SPACE, OBJECTIVE)

    assert importance.scores == {name: 0.0 for name in SPACE.names}
    assert "same in every trial" in importance.method


def test_importance_no_varying_hyperparameter():
    trials = [make_trial(n, {"learning_rate": 1e-3}, 0.1 * n) for n in range(1, 6)]
    space = SearchSpace((HyperParameter("learning_rate", "log", 1e-4, 1e-2),))

    importance = compute_importance(trials, space, OBJECTIVE)

    assert importance.scores == {"learning_rate": 0.0}
    assert "separates" in importance.method


def test_importance_inactive_values():
    # dropout is active only in half the trials; its presence decides the objective.
    trials = []
    for number in range(1, 41):
        hps = {"learning_rate": 10 ** (-4 + 2 * ((number * 7) % 40) / 39)}
        if number % 2:
            hps["dropout"] = 0.25
        trials.append(make_trial(number, hps, 0.9 if number % 2 else 0.6))

    importance = compute_importance(trials, SPACE, OBJECTIVE)

    assert importance.n_trials == 40
    assert importance.ranked()[0][0] == "dropout"


def test_importance_empty_space():
    importance = compute_importance(random_trials(5, 11, learning_rate_only), SearchSpace(), OBJECTIVE)

    assert importance.scores == {}
    assert importance.n_trials == 5


def test_ranked_ties_by_name():
    importance = Importance({"b": 0.25, "a": 0.25, "c": 0.5}, "hand-made", 3)

    assert importance.ranked() == [("c", 0.5), ("a", 0.25), ("b", 0.25)]
