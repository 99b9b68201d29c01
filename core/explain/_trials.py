"""Trial selection and unit-scale encoding shared by the explain modules."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from ..events import COMPLETED, TrialFinished
from ..space import HyperParameter

# Minimum number of usable trials to fit a model on. Below this, importance is reported
# as unknown and no surrogate is fitted.
MIN_TRIALS = 3


def is_finite_number(value: Any) -> bool:
    """Return True when `value` is a finite int or float (a bool is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value)


def usable_trials(trials: Iterable[TrialFinished]) -> list[TrialFinished]:
    """Return the completed trials with a finite objective, ordered by trial number.

    The fixed order makes every fit and every series independent of the order
    in which the caller collected the trials.
    """
    usable = [t for t in trials if t.status == COMPLETED and is_finite_number(t.objective)]
    usable.sort(key=lambda trial: (trial.number, trial.trial_id))
    return usable


def single_tuner(names: Sequence[str], what: str) -> str:
    """Return the one tuner name in `names`, or "" when there is none.

    Raises `ValueError` when records of several tuners are mixed, because a
    series or history of mixed tuners would silently blend two searches.
    """
    distinct = sorted(set(names))
    if len(distinct) > 1:
        raise ValueError(f"{what} got records of several tuners ({', '.join(distinct)}); pass one tuner's records")
    return distinct[0] if distinct else ""


def unit_value(parameter: HyperParameter, value: Any) -> float | None:
    """Map a trial's value to [0, 1] over the parameter's full range.

    Log ranges are mapped in log10 space and a choice maps to its index spread
    over [0, 1]. Returns None for a missing (inactive) value, NaN, a value of
    the wrong type, a non-positive value on a log axis, or a choice that is not
    among the options.
    """
    if value is None:
        return None

    if parameter.type == "choice":
        if value not in parameter.values:
            return None
        return parameter.to_unit(value)

    if not is_finite_number(value):
        return None
    if parameter.is_log and value <= 0:
        return None
    return parameter.to_unit(float(value))


def varies(parameter: HyperParameter) -> bool:
    """Return True when the parameter can take more than one value."""
    if parameter.type == "choice":
        return len(parameter.values) > 1
    return parameter.max > parameter.min
