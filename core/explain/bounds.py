"""Bound history: the ranges an AiSara tuner searched, round by round."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..events import RoundFinished
from ..space import SearchSpace
from ._trials import is_finite_number, single_tuner

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BoundHistory:
    """The bounds and impacts of each numeric hyperparameter, per AiSara round.

    `bounds[name][i]` is the (low, high) range searched in round `rounds[i]`;
    a round that did not report a hyperparameter counts as searching its full
    range. `impacts[name][i]` is that round's impact in [0, 1], or NaN when
    the round reported none. `ranges` is each hyperparameter's full range in
    the space, and `log_scale` marks the log ranges.
    """

    tuner: str
    rounds: tuple[int, ...]
    bounds: dict[str, tuple[tuple[float, float], ...]]
    impacts: dict[str, tuple[float, ...]]
    log_scale: dict[str, bool]
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)


def bound_history(rounds: Sequence[RoundFinished], space: SearchSpace) -> BoundHistory:
    """Collect the bounds searched in each round, ordered by round number.

    Covers the numeric hyperparameters of `space` that at least one round
    reports. Choices and names missing from the space are left out. When a
    round number repeats (a resumed run), the last event for it wins. Raises
    `ValueError` when the rounds come from several tuners.
    """
    tuner = single_tuner([r.tuner for r in rounds], "bound_history")
    latest: dict[int, RoundFinished] = {}
    for event in rounds:
        if event.round in latest:
            logger.debug("round %d of %s appears twice; keeping the later event", event.round, tuner)
        latest[event.round] = event
    ordered = [latest[number] for number in sorted(latest)]

    reported = {name for event in ordered for name in event.bounds}
    unknown = reported - set(space.names)
    if unknown:
        logger.debug("bound history of %s skips hyperparameters not in the space: %s", tuner, sorted(unknown))
    parameters = [p for p in space if p.is_numeric and p.name in reported]

    bounds: dict[str, tuple[tuple[float, float], ...]] = {}
    impacts: dict[str, tuple[float, ...]] = {}
    for parameter in parameters:
        full_range = (float(parameter.min), float(parameter.max))
        per_round = []
        for event in ordered:
            pair = event.bounds.get(parameter.name)
            if pair is not None and len(pair) == 2 and all(is_finite_number(v) for v in pair):
                per_round.append((float(pair[0]), float(pair[1])))
            else:
                per_round.append(full_range)
        bounds[parameter.name] = tuple(per_round)

        values = [event.impacts.get(parameter.name) for event in ordered]
        impacts[parameter.name] = tuple(float(v) if is_finite_number(v) else math.nan for v in values)

    return BoundHistory(
        tuner=tuner,
        rounds=tuple(event.round for event in ordered),
        bounds=bounds,
        impacts=impacts,
        log_scale={p.name: p.is_log for p in parameters},
        ranges={p.name: (float(p.min), float(p.max)) for p in parameters},
    )
