"""The AiSara method as a Keras Tuner oracle, offline.

`AiSaraOracle` hands out each round's Latin hypercube points, then one
exploration point, and concludes the round when its trials have ended:
it computes the next bounds with `aisara_method` and reports a
`RoundFinished` event. It runs under any `keras_tuner.Tuner`, also in Keras
Tuner's chief/worker mode, where a worker that requests a trial while the
round's last trials still run gets status IDLE.

This module subclasses `keras_tuner.Oracle`, so importing it imports Keras
Tuner and TensorFlow; import it only where a tuner is built.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import keras_tuner
from keras_tuner.engine.metrics_tracking import infer_metric_direction
from keras_tuner.engine.trial import TrialStatus

from ..events import RoundFinished
from ..space import SearchSpace, Value
from . import aisara_method as method

logger = logging.getLogger(__name__)

# Round phases: the Latin hypercube points are handed out, then the one
# exploration point.
SAMPLING = "sampling"
EXPLORATION = "exploration"


@dataclass
class _Round:
    """The round in progress, as stored in the oracle's state."""

    number: int
    bounds: method.Bounds
    points: list[dict[str, Value]]
    trial_ids: list[str] = field(default_factory=list)
    phase: str = SAMPLING
    exploration_point: dict[str, Value] | None = None
    exploration_trial_id: str | None = None

    def to_state(self) -> dict[str, Any]:
        state = asdict(self)
        state["bounds"] = {name: list(limits) for name, limits in self.bounds.items()}
        return state

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> _Round:
        data = dict(state)
        data["bounds"] = {name: (low, high) for name, (low, high) in state["bounds"].items()}
        return cls(**data)


class AiSaraOracle(keras_tuner.Oracle):
    """Latin hypercube rounds with search-space reduction, as an oracle.

    Args:
        objective: The objective, a `keras_tuner.Objective` or a metric name.
        space: The search space; numeric ranges only (no choice).
        trials_per_round: Latin hypercube points per round, at least 2.
        rounds: The number of rounds, or "auto" to run until the bounds stop
            shrinking.
        tie_break: The metric that ranks trials of equal objective, a name
            (its direction inferred as Keras Tuner does) or an Objective.
        seed: Seed of the sampling and the surrogate; the same seed gives the
            same rounds for the same results.
        max_trials: The cap on all trials, exploration trials included, or
            None for no cap.
        tuner_name: The tuner's name in the events.
        on_round: Called with a `RoundFinished` event after each round, while
            the oracle's lock is held. An exception from it is logged and the
            search goes on.
        hyperparameters: The Keras Tuner search space; by default
            `space.to_keras_tuner()`.
    """

    def __init__(
        self,
        objective: Any,
        space: SearchSpace,
        trials_per_round: int = 5,
        rounds: int | str = 3,
        tie_break: str | keras_tuner.Objective = "val_loss",
        seed: int | None = None,
        max_trials: int | None = None,
        tuner_name: str = "aisara",
        on_round: Callable[[RoundFinished], None] | None = None,
        hyperparameters: keras_tuner.HyperParameters | None = None,
        max_retries_per_trial: int = 0,
        max_consecutive_failed_trials: int = 3,
        **kwargs: Any,
    ) -> None:
        if isinstance(objective, list):
            raise ValueError("AiSaraOracle optimises one objective; pass one metric name or keras_tuner.Objective")
        if trials_per_round < method.MIN_RESULTS:
            raise ValueError(f"trials_per_round={trials_per_round} is too small; use {method.MIN_RESULTS} or more")
        if rounds != "auto" and (not isinstance(rounds, int) or isinstance(rounds, bool) or rounds < 1):
            raise ValueError(f"rounds={rounds!r} is invalid; use a number of rounds of 1 or more, or \"auto\"")
        bounds = method.initial_bounds(space)

        super().__init__(
            objective=objective,
            max_trials=max_trials,
            hyperparameters=hyperparameters if hyperparameters is not None else space.to_keras_tuner(),
            seed=seed,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
            **kwargs,
        )
        self.space = space
        self.trials_per_round = trials_per_round
        self.rounds = rounds
        self.tuner_name = tuner_name
        self.on_round = on_round
        self.tie_break, self.tie_break_direction = _tie_break_metric(tie_break)
        # The base class turns a seed of 0 into a random one; 0 is a valid seed here.
        self.method_seed = seed if seed is not None else self.seed

        self._round = self._start_round(1, bounds)
        self._previous_best: method.TrialResult | None = None
        self._trial_rounds: dict[str, int] = {}
        self._exploration_trial_ids: list[str] = []
        self._history: list[dict[str, Any]] = []
        self._finished = False
        self.stop_reason = ""

    # -- Keras Tuner's oracle interface -------------------------------------

    def populate_space(self, trial_id: str) -> dict[str, Any]:
        """Hand out the round's next point, or return IDLE or STOPPED.

        Called by `create_trial`, under the oracle's lock. IDLE means that all
        of the round's points are out and some of their trials still run.
        """
        if self._finished:
            return {"status": TrialStatus.STOPPED}

        current = self._round
        if current.phase == SAMPLING and len(current.trial_ids) < len(current.points):
            values = current.points[len(current.trial_ids)]
            current.trial_ids.append(trial_id)
            self._trial_rounds[trial_id] = current.number
            return {"status": TrialStatus.RUNNING, "values": dict(values)}

        if current.phase == EXPLORATION and current.exploration_trial_id is None:
            current.exploration_trial_id = trial_id
            self._trial_rounds[trial_id] = current.number
            self._exploration_trial_ids.append(trial_id)
            return {"status": TrialStatus.RUNNING, "values": dict(current.exploration_point or {})}

        return {"status": TrialStatus.IDLE}

    @keras_tuner.synchronized
    def end_trial(self, trial: Any) -> None:
        """End a trial as Keras Tuner does, then conclude the round if it is complete."""
        super().end_trial(trial)
        self._advance()
        self.save()

    def get_state(self) -> dict[str, Any]:
        state = super().get_state()
        state["aisara"] = {
            "round": self._round.to_state(),
            "previous_best": asdict(self._previous_best) if self._previous_best else None,
            "trial_rounds": dict(self._trial_rounds),
            "exploration_trial_ids": list(self._exploration_trial_ids),
            "history": list(self._history),
            "finished": self._finished,
            "stop_reason": self.stop_reason,
        }
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        aisara = state["aisara"]
        self._round = _Round.from_state(aisara["round"])
        previous = aisara["previous_best"]
        self._previous_best = method.TrialResult(**previous) if previous else None
        self._trial_rounds = dict(aisara["trial_rounds"])
        self._exploration_trial_ids = list(aisara["exploration_trial_ids"])
        self._history = list(aisara["history"])
        self._finished = aisara["finished"]
        self.stop_reason = aisara["stop_reason"]
        if self._finished and self.max_trials is not None and len(self.trials) < self.max_trials:
            # A resume with --extend raises max_trials, but the method's
            # rounds ended and a round cannot be added without new bounds
            # and its own budget of trials_per_round points.
            logger.warning(
                "%s: the AiSara method ended in an earlier process (%s), so max_trials=%d adds no trials; "
                "to search further, start a new run with more rounds or a larger max_trials",
                self.tuner_name,
                self.stop_reason,
                self.max_trials,
            )

    # -- queries -------------------------------------------------------------

    def trial_round(self, trial_id: str) -> int | None:
        """Return the round number (1-based) of a trial, or None for an unknown id."""
        return self._trial_rounds.get(trial_id)

    def is_exploration_trial(self, trial_id: str) -> bool:
        """Return whether the trial is a round's exploration trial."""
        return trial_id in self._exploration_trial_ids

    @property
    def current_round(self) -> int:
        """The number of the round in progress, or of the last one once finished."""
        return self._round.number

    @property
    def current_bounds(self) -> method.Bounds:
        """The bounds the round in progress samples from."""
        return dict(self._round.bounds)

    @property
    def finished(self) -> bool:
        """Whether the method has stopped; `stop_reason` gives the reason."""
        return self._finished

    @property
    def round_history(self) -> list[RoundFinished]:
        """The `RoundFinished` event of every concluded round, in order."""
        return [RoundFinished(**{k: v for k, v in event.items() if k != "event"}) for event in self._history]

    # -- the method ---------------------------------------------------------

    def _start_round(self, number: int, bounds: method.Bounds) -> _Round:
        seed = method.derive_seed(self.method_seed, number)
        points = method.sample_round(self.space, bounds, self.trials_per_round, seed)
        return _Round(number=number, bounds=dict(bounds), points=points)

    def _advance(self) -> None:
        """Move the round on once the trials of its phase have all ended."""
        if self._finished:
            return
        current = self._round
        ended = set(self.end_order)

        if current.phase == SAMPLING:
            budget_left = self.remaining_trials()
            all_out = len(current.trial_ids) == len(current.points) or budget_left == 0
            if not all_out or not all(trial_id in ended for trial_id in current.trial_ids):
                return
            if self._is_last_round(current.number) or budget_left == 0:
                # As in aisaratuners 1.5.2, the last round trains no
                # exploration trial, since no later round would use it.
                self._conclude(None)
                return
            self._plan_exploration()
            return

        if current.exploration_trial_id is not None and current.exploration_trial_id in ended:
            self._conclude(self._result(current.exploration_trial_id))

    def _plan_exploration(self) -> None:
        current = self._round
        results = self._round_results()
        seed = method.derive_seed(self.method_seed, current.number)
        exploration = method.choose_exploration(
            self.space,
            current.bounds,
            results,
            self._previous_best,
            current.points,
            seed,
            self.objective.direction,
            self.tie_break_direction,
        )
        if exploration is None:
            self._conclude(None)
            return
        current.phase = EXPLORATION
        current.exploration_point = exploration.point
        logger.debug(
            "%s round %d: exploration point %s (predicted error %.4g)",
            self.tuner_name,
            current.number,
            exploration.point,
            exploration.predicted_error,
        )

    def _conclude(self, exploration_result: method.TrialResult | None) -> None:
        current = self._round
        results = self._round_results()
        seed = method.derive_seed(self.method_seed, current.number)
        outcome = method.conclude_round(
            self.space,
            current.bounds,
            results,
            self._previous_best,
            exploration_result,
            self.trials_per_round,
            seed,
            self.objective.direction,
            self.tie_break_direction,
        )

        if outcome is None:
            best = method.pick_best(
                [r for r in [self._previous_best, *results] if r is not None],
                self.objective.direction,
                self.tie_break_direction,
            )
            event = RoundFinished(
                tuner=self.tuner_name,
                round=current.number,
                bounds=_bounds_lists(current.bounds),
                next_bounds=_bounds_lists(current.bounds),
                impacts={},
                predicted_best={},
                exploration=current.exploration_point,
                best_trial_id=best.trial_id if best else None,
                shrinking=False,
            )
            self._previous_best = best
            self._finish(
                f"round {current.number} completed {len(results)} of its trials, "
                f"fewer than the {method.MIN_RESULTS} a surrogate needs",
                logging.WARNING,
            )
            self._emit(event)
            return

        prediction = outcome.prediction
        event = RoundFinished(
            tuner=self.tuner_name,
            round=current.number,
            bounds=_bounds_lists(current.bounds),
            next_bounds=_bounds_lists(outcome.update.bounds),
            impacts=dict(prediction.impacts) if prediction else {p.name: 0.0 for p in self.space},
            predicted_best=dict(prediction.point) if prediction else dict(outcome.center.values),
            exploration=current.exploration_point,
            best_trial_id=outcome.center.trial_id,
            shrinking=outcome.update.shrinking,
        )
        self._previous_best = outcome.center

        if self._is_last_round(current.number):
            self._finish(f"all {self.rounds} rounds ran" if self.rounds != 1 else "its one round ran")
        elif self.max_trials is not None and self.remaining_trials() <= 0:
            self._finish(f"max_trials={self.max_trials} reached")
        elif not outcome.update.searchable:
            self._finish("every hyperparameter is fixed")
        elif not outcome.update.shrinking:
            self._finish("the bounds stopped shrinking")
        else:
            self._round = self._start_round(current.number + 1, outcome.update.bounds)
        self._emit(event)

    def _finish(self, reason: str, level: int = logging.INFO) -> None:
        self._finished = True
        self.stop_reason = reason
        logger.log(level, "%s stops after round %d: %s", self.tuner_name, self._round.number, reason)

    def _emit(self, event: RoundFinished) -> None:
        self._history.append(event.to_dict())
        # The event itself reaches the user through on_round, so this is for debugging.
        logger.debug(
            "%s round %d finished: best trial %s, next bounds %s",
            self.tuner_name,
            event.round,
            event.best_trial_id,
            event.next_bounds,
        )
        if self.on_round is None:
            return
        try:
            self.on_round(event)
        except Exception:
            logger.exception("%s: on_round callback failed on round %d", self.tuner_name, event.round)

    def _is_last_round(self, number: int) -> bool:
        return self.rounds != "auto" and number >= self.rounds

    def _round_results(self) -> list[method.TrialResult]:
        results = (self._result(trial_id) for trial_id in self._round.trial_ids)
        return [result for result in results if result is not None]

    def _result(self, trial_id: str) -> method.TrialResult | None:
        """Read a completed trial's values, objective and tie-break metric."""
        trial = self.trials[trial_id]
        if trial.status != TrialStatus.COMPLETED or trial.score is None or not math.isfinite(trial.score):
            return None
        values = trial.hyperparameters.values
        return method.TrialResult(
            trial_id=trial_id,
            values={name: values[name] for name in self.space.names},
            objective=float(trial.score),
            tie_break=_metric_at_step(trial, self.tie_break, trial.best_step),
        )


def _tie_break_metric(tie_break: str | keras_tuner.Objective) -> tuple[str, str]:
    if isinstance(tie_break, keras_tuner.Objective):
        return tie_break.name, tie_break.direction
    direction = infer_metric_direction(tie_break)
    if direction is None:
        # Keras Tuner cannot infer a direction for an unknown custom metric.
        direction = "min" if "loss" in tie_break or "error" in tie_break else "max"
        logger.warning("tie-break metric %r has no known direction; assuming %r", tie_break, direction)
    return tie_break, direction


def _metric_at_step(trial: Any, name: str, step: int | None) -> float | None:
    """Return a metric at the step where the objective was best, else its best value."""
    if not trial.metrics.exists(name):
        return None
    for observation in trial.metrics.get_history(name):
        if observation.step == step:
            return float(observation.mean())
    best = trial.metrics.get_best_value(name)
    return float(best) if best is not None else None


def _bounds_lists(bounds: Mapping[str, tuple[float, float]]) -> dict[str, list[float]]:
    return {name: [low, high] for name, (low, high) in bounds.items()}
