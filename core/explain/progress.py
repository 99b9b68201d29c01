"""Best-so-far series: how fast a tuner found its best objective."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..config import Objective
from ..events import TrialFinished
from ._trials import single_tuner, usable_trials


@dataclass(frozen=True)
class BestSoFar:
    """One tuner's best objective so far, after each completed trial.

    `by_trial` pairs each completed trial's number with the best objective
    among the completed trials up to that number. `by_time` pairs the seconds
    from the search's start to each trial's end with the best objective among
    the trials that had ended by then. Both are in ascending order and contain
    only completed trials with a finite objective.
    """

    tuner: str
    metric: str
    direction: str
    by_trial: tuple[tuple[int, float], ...]
    by_time: tuple[tuple[float, float], ...]

    @property
    def best(self) -> float | None:
        """The final best objective, or None without a completed trial."""
        return self.by_trial[-1][1] if self.by_trial else None


def best_so_far(
    trials: Iterable[TrialFinished],
    objective: Objective,
    start: float | None = None,
) -> BestSoFar:
    """Build the best-so-far series of one tuner's trials.

    `start` is the unix time the search began. By default it is the earliest
    start among all given trials, failed ones included: each trial's end
    `time` minus its `fit_seconds`. Raises `ValueError` when the trials come
    from several tuners.
    """
    trials = list(trials)
    tuner = single_tuner([t.tuner for t in trials], "best_so_far")
    usable = usable_trials(trials)
    if start is None and trials:
        start = min(t.time - t.fit_seconds for t in trials)

    by_trial = []
    best = None
    for trial in usable:
        if best is None or objective.better(trial.objective, best):
            best = float(trial.objective)
        by_trial.append((trial.number, best))

    by_time = []
    best = None
    for trial in sorted(usable, key=lambda t: (t.time, t.number)):
        if best is None or objective.better(trial.objective, best):
            best = float(trial.objective)
        by_time.append((trial.time - start, best))

    return BestSoFar(
        tuner=tuner,
        metric=objective.metric,
        direction=objective.direction,
        by_trial=tuple(by_trial),
        by_time=tuple(by_time),
    )
