"""Hyperparameter importance: how much each hyperparameter explains the objective."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ..config import Objective
from ..events import TrialFinished
from ..space import SearchSpace
from ._trials import MIN_TRIALS, unit_value, usable_trials

logger = logging.getLogger(__name__)

# 64 trees rank the one hyperparameter that matters first in the synthetic
# tests, and a fit on 200 trials takes about 40 ms of CPU
# (benchmarks/bench_importance.py, 2 cores).
N_TREES = 64
METHOD = f"extra-trees impurity importance ({N_TREES} trees)"

# Unit-scaled values lie in [0, 1], so a value outside that range lets the
# trees split inactive trials from active ones.
INACTIVE = -1.0


@dataclass(frozen=True)
class Importance:
    """Importance of each hyperparameter of the space for one tuner's trials.

    `scores` maps every hyperparameter to a value >= 0. The values sum to 1,
    or are all 0 when importance is unknown, and `method` then gives the reason.
    `n_trials` is the number of completed trials with a finite objective.
    """

    scores: dict[str, float]
    method: str
    n_trials: int

    @property
    def known(self) -> bool:
        """Whether the scores were computed. It is False when they are all 0, and `method` then gives the reason."""
        return any(score > 0 for score in self.scores.values())

    def ranked(self) -> list[tuple[str, float]]:
        """Return (name, score) pairs, highest score first, ties by name."""
        return sorted(self.scores.items(), key=lambda item: (-item[1], item[0]))


MIN_SAMPLES_LEAF = 2


def compute_importance(
    trials: Iterable[TrialFinished],
    space: SearchSpace,
    objective: Objective,
    seed: int = 0,
) -> Importance:
    """Estimate hyperparameter importance from completed trials.

    Fits an extra-trees regressor (scikit-learn) from unit-scaled
    hyperparameters to the objective and sums its impurity-based feature
    importances per hyperparameter. Numeric values are scaled over the full
    range (log ranges in log10 space), choices are one-hot encoded, and an
    inactive value gets a column value of its own. The same trials and seed
    give the same scores whatever the order of `trials`. The direction of
    `objective` does not change importance.
    """
    usable = usable_trials(trials)
    names = space.names
    zeros = {name: 0.0 for name in names}

    # Each leaf contains at least two trials, so a tree needs four to split once.
    needed = max(MIN_TRIALS, 2 * MIN_SAMPLES_LEAF)
    if len(usable) < needed:
        return Importance(zeros, f"too few trials ({len(usable)} usable, {needed} needed)", len(usable))
    if not names:
        return Importance({}, "no hyperparameters in the space", len(usable))

    features, owners = _feature_matrix(usable, space)
    target = np.array([float(t.objective) for t in usable])
    if np.ptp(target) == 0:
        return Importance(zeros, f"{objective.metric} is the same in every trial", len(usable))

    # Imported here because scikit-learn's ensemble module takes about a
    # second to import, and `import tunescope.core.explain` must stay fast.
    from sklearn.ensemble import ExtraTreesRegressor

    model = ExtraTreesRegressor(n_estimators=N_TREES, min_samples_leaf=MIN_SAMPLES_LEAF, random_state=seed, n_jobs=1)
    model.fit(features, target)

    scores = dict(zeros)
    for owner, value in zip(owners, model.feature_importances_):
        scores[owner] += float(value)

    total = sum(scores.values())
    if total <= 0:
        # scikit-learn reports all zeros when no tree could split: no
        # hyperparameter varies, or no split leaves two trials on each side.
        return Importance(zeros, "no hyperparameter separates the trials yet", len(usable))

    scores = {name: score / total for name, score in scores.items()}
    logger.debug("importance of %d trials for %s: %s", len(usable), objective.metric, scores)
    return Importance(scores, METHOD, len(usable))


def _feature_matrix(trials: list[TrialFinished], space: SearchSpace) -> tuple[np.ndarray, list[str]]:
    """Encode trials as rows of a feature matrix. `owners[j]` names the hyperparameter of column j."""
    columns: list[list[float]] = []
    owners: list[str] = []

    for parameter in space:
        values = [t.hyperparameters.get(parameter.name) for t in trials]

        if parameter.type == "choice":
            for option in parameter.values:
                columns.append([1.0 if value == option else 0.0 for value in values])
                owners.append(parameter.name)
            continue

        column = []
        for value in values:
            unit = unit_value(parameter, value)
            # A value outside the range (from an older config) is clipped so it
            # cannot be mistaken for the inactive marker.
            column.append(INACTIVE if unit is None else min(max(unit, 0.0), 1.0))
        columns.append(column)
        owners.append(parameter.name)

    return np.array(columns, dtype=float).T, owners
