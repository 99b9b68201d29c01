"""One Keras Tuner oracle per tuner type, all built from the one search space."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

from ..config import Objective, TunerConfig
from ..events import RoundFinished
from ..space import SearchSpace

# Tuner types that run through Keras Tuner's `Tuner` with an oracle. The
# `aisara-cloud` type drives the aisaratuners package instead.
ORACLE_TYPES = ("random", "bayesian", "hyperband", "grid", "aisara")


def tuner_seed(seed: int, tuner_name: str) -> int:
    """Derive the seed of one tuner's oracle from the experiment seed.

    Oracles seeded alike draw the same first points, so random search and
    Bayesian optimisation would start from identical trials. Mixing in the
    tuner's name gives each its own repeatable stream.
    """
    return (seed * 1_000_003 + zlib.crc32(tuner_name.encode())) % 2**31


def create_oracle(
    tuner: TunerConfig,
    space: SearchSpace,
    objective: Objective,
    seed: int,
    max_consecutive_failures: int,
    on_round: Callable[[RoundFinished], None] | None = None,
) -> Any:
    """Build the `keras_tuner.Oracle` for `tuner`, limited to its trial budget."""
    import keras_tuner

    common: dict[str, Any] = {
        "objective": keras_tuner.Objective(objective.metric, direction=objective.direction),
        "hyperparameters": space.to_keras_tuner(),
        "seed": tuner_seed(seed, tuner.name),
        "max_retries_per_trial": 0,
        "max_consecutive_failed_trials": max_consecutive_failures,
    }
    settings = dict(tuner.settings)

    if tuner.type == "random":
        return keras_tuner.oracles.RandomSearchOracle(max_trials=tuner.max_trials, **common)

    if tuner.type == "bayesian":
        return keras_tuner.oracles.BayesianOptimizationOracle(
            max_trials=tuner.max_trials,
            num_initial_points=settings.get("num_initial_points"),
            alpha=settings.get("alpha", 1e-4),
            beta=settings.get("beta", 2.6),
            **common,
        )

    if tuner.type == "hyperband":
        oracle = keras_tuner.oracles.HyperbandOracle(
            max_epochs=tuner.epochs,
            factor=settings.get("factor", 3),
            # Unless set, brackets repeat until the trial budget is spent.
            hyperband_iterations=settings.get("hyperband_iterations"),
            **common,
        )
        # Hyperband's budget is epochs, not trials; the base oracle stops
        # handing out trials once `max_trials` exist, which keeps the
        # comparison's trial budget equal across tuners.
        oracle.max_trials = tuner.max_trials
        return oracle

    if tuner.type == "grid":
        return keras_tuner.oracles.GridSearchOracle(max_trials=tuner.max_trials, **common)

    if tuner.type == "aisara":
        from .aisara import AiSaraOracle

        return AiSaraOracle(
            space=space,
            max_trials=tuner.max_trials,
            trials_per_round=settings.get("trials_per_round", 5),
            rounds=settings.get("rounds", 3),
            tie_break=settings.get("tie_break", "val_loss"),
            tuner_name=tuner.name,
            on_round=on_round,
            **common,
        )

    raise ValueError(f"tuner type {tuner.type!r} has no Keras Tuner oracle")
