"""The opt-in `aisara-cloud` tuner: aisaratuners' HpOptimization against its service.

The `aisaratuners` package (written against 1.5.2) sends every step of the
AiSara method (Latin hypercube draws, surrogate fits and predictions, grid
predictions) to a paid remote service on RapidAPI. This adapter drives the
package's own `HpOptimization.run_opti` with the user's API key, trains each
trial with tunescope's model families, and turns what happens into
`core.events` records. tunescope's default `aisara` tuner runs the method
offline instead.

While a search runs, the adapter changes three pieces of process-wide state,
each restored in a `finally` block and all held under `_PROCESS_STATE_LOCK`:

- the working directory, moved to a private temporary directory, because
  `run_opti` deletes every file in `./models`;
- the `requests` name inside `aisaratuners.aisara_keras_tuner`, replaced by
  `aisara_cloud_service.ServiceSession`, which sends each request to the
  base URL in `TUNESCOPE_AISARA_URL`, sets a timeout and turns failures into
  one-line `TunescopeError`s;
- `sys.stdout`, so that the package's prints go to this module's logger at
  DEBUG level instead of the terminal.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import logging
import math
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ..config import DEFAULT_API_KEY_ENV, Experiment, TunerConfig
from ..errors import DependencyError, TunescopeError
from ..events import (
    CANCELLED,
    COMPLETED,
    FAILED,
    EpochEnded,
    EpochStarted,
    Event,
    RoundFinished,
    TrialFinished,
    TrialStarted,
)
from ..space import HyperParameter
from .aisara_cloud_service import (
    DEFAULT_REQUEST_TIMEOUT_S,
    OFFLINE_HINT,
    SearchEnded,
    ServiceSession,
    read_service_url,
)

if TYPE_CHECKING:
    from ..data import Dataset

logger = logging.getLogger(__name__)

TESTED_PACKAGE_VERSION = "1.5.2"

# Serialises the changes to the working directory, to aisaratuners' module
# globals and to sys.stdout, which every thread of the process shares.
_PROCESS_STATE_LOCK = threading.Lock()

_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class CloudResult:
    """The outcome of an aisara-cloud search, before the engine adds timing and test scores."""

    best_trial_id: str | None
    best_hyperparameters: dict[str, Any]
    best_objective: float | None
    best_metrics: dict[str, float]
    best_model: Any | None
    trainable_params: int | None
    trials_completed: int
    trials_failed: int


class ModelFunctions(Protocol):
    """The model-building functions a search trains with (`core.models` by default)."""

    def build_model(
        self,
        values: Mapping[str, Any],
        model: Any,
        input_shape: tuple[int, ...],
        num_classes: int,
        search_paths: Sequence[Path] = (),
        training: Any = None,
    ) -> Any: ...

    def fit_options(self, values: Mapping[str, Any], default_batch_size: int) -> dict[str, Any]: ...

    def count_trainable_params(self, model: Any) -> int: ...


def run_cloud_search(
    tuner: TunerConfig,
    experiment: Experiment,
    dataset: Dataset,
    emit: Callable[[Event], None],
    should_stop: Callable[[], bool],
    *,
    models: ModelFunctions | None = None,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT_S,
) -> CloudResult:
    """Run one aisara-cloud search and return its best trial.

    Emits TrialStarted, EpochStarted, EpochEnded and TrialFinished for every
    trial and one RoundFinished per completed round. The search ends after
    `tuner.settings["rounds"]` rounds, after `tuner.max_trials` trials, or
    when `should_stop()` returns true, and each way returns the best trial
    so far. Raises `TunescopeError` (one line, never containing the API key)
    for a missing key, an invalid service URL, an unreachable service, a
    rejected key, an unexpected response, a model that cannot be built, a
    trial that fails before any has completed, and too many failed trials in
    a row.
    """
    api_key_env = tuner.settings.get("api_key_env", DEFAULT_API_KEY_ENV)
    api_key = _read_api_key(tuner.name, api_key_env)
    service_url = read_service_url(tuner.name)

    objective = experiment.objective
    tie_break = tuner.settings.get("tie_break", "val_loss" if objective.metric != "val_loss" else "val_accuracy")
    if tie_break == objective.metric:
        raise TunescopeError(
            f"tuner '{tuner.name}': tie_break {tie_break!r} is the objective metric itself; "
            "set tie_break to another metric, such as \"val_loss\""
        )

    if models is None:
        from .. import models as default_models

        models = default_models

    search = _CloudSearch(tuner, experiment, dataset, emit, should_stop, models, tie_break)
    session = ServiceSession(tuner.name, service_url, api_key, api_key_env, request_timeout, should_stop)
    return search.run(session)


def _read_api_key(tuner_name: str, variable: str) -> str:
    key = os.environ.get(variable, "").strip()
    if not key:
        raise TunescopeError(
            f"tuner '{tuner_name}' (aisara-cloud): the environment variable {variable} is not set; "
            f"set it to your own AiSara API key from RapidAPI (export {variable}=...), {OFFLINE_HINT}"
        )
    return key


# -- the search ---------------------------------------------------------------


@dataclass
class _Trial:
    trial_id: str
    number: int
    round: int
    values: dict[str, Any]
    status: str = COMPLETED
    metrics: dict[str, float] = field(default_factory=dict)
    objective: float | None = None
    model: Any | None = None
    trainable_params: int | None = None


class _CloudSearch:
    """The driver of one search: trains the trials `run_opti` requests, records rounds, events and the best."""

    def __init__(
        self,
        tuner: TunerConfig,
        experiment: Experiment,
        dataset: Dataset,
        emit: Callable[[Event], None],
        should_stop: Callable[[], bool],
        models: ModelFunctions,
        tie_break: str,
    ) -> None:
        self.tuner = tuner
        self.experiment = experiment
        self.dataset = dataset
        self.emit = emit
        self.should_stop = should_stop
        self.models = models
        self.objective = experiment.objective
        self.tie_break = tie_break
        self.tie_break_direction = "min" if "loss" in tie_break else "max"
        self.trials_per_round = int(tuner.settings.get("trials_per_round", 5))
        self.rounds = int(tuner.settings.get("rounds", 3))

        self.optimizer: Any = None
        self.search_paths: tuple[Path, ...] = ()
        self.trials: list[_Trial] = []
        self.best: _Trial | None = None
        self.consecutive_failures = 0
        self.stop_reason: str | None = None

        # The round in progress: the draws `run_opti` trains, the bounds it
        # drew them from, its trials, and what the service predicted after it.
        self.round = 0
        self.round_draws: Any = None
        self.round_bounds: dict[str, list[float]] = {}
        self.round_trials: list[_Trial] = []
        self.exploration: _Trial | None = None
        self.impacts: dict[str, float] = {}
        self.predicted_best: dict[str, float] = {}

    # -- driving the package ------------------------------------------------

    def run(self, session: ServiceSession) -> CloudResult:
        try:
            from aisaratuners import aisara_keras_tuner as package
        except ImportError:
            raise DependencyError("aisaratuners", "the aisara-cloud tuner") from None
        _warn_if_untested_version(self.tuner.name)

        try:
            hps = self.experiment.space.to_aisara()
        except ValueError as error:
            raise TunescopeError(
                f"tuner '{self.tuner.name}' (aisara-cloud): {error}; turn it into an int range"
            ) from None

        optimizer_class = _observing_optimizer_class(package.HpOptimization)
        self.optimizer = optimizer_class(
            hp_class=hps,
            model_func=self.train_draw,
            opti_paras=[self.objective.metric, self.tie_break],
            opti_objects=[self.objective.direction, self.tie_break_direction],
            num_trials=self.trials_per_round,
            rounds=self.rounds,
            # Mode "p" would use the key embedded in the package; "c" uses ours.
            mode="c",
            api_key=session.api_key,
            # "fixed" seeds NumPy, random and TensorFlow globally and opens a
            # TF1 session, which would reach into every other tuner's thread.
            aisara_seed="variable",
        )
        self.optimizer.on_prediction = self.record_prediction

        logger.info(
            "tuner %s: aisara-cloud search of %d rounds x %d trials (at most %d trials) at %s",
            self.tuner.name,
            self.rounds,
            self.trials_per_round,
            self.tuner.max_trials,
            session.base_url,
        )
        # A custom model module is looked up in the current directory, which
        # is the temporary one while the package runs, so the user's
        # directory and the experiment file's folder are passed explicitly.
        user_dir = Path.cwd()
        source = self.experiment.source
        self.search_paths = ((user_dir / source).parent, user_dir) if source is not None else (user_dir,)

        with _PROCESS_STATE_LOCK:
            self._run_isolated(package, session)

        if self.stop_reason != "cancelled":
            self.finish_round()
        if self.stop_reason:
            logger.info("tuner %s: aisara-cloud search ended early (%s)", self.tuner.name, self.stop_reason)
        return self.result()

    def _run_isolated(self, package: Any, session: ServiceSession) -> None:
        # NOTE: os.chdir, the patched module global and sys.stdout are
        # process-wide. While the search runs, any other thread that opens a
        # relative path resolves it inside the temporary directory, so
        # tunescope must hand absolute paths (run directory, caches) to code
        # running beside this tuner. Other threads' output passes through to
        # the real stdout, but a thread that swaps sys.stdout itself meanwhile
        # can have its swap undone when this search restores the original.
        previous_cwd = os.getcwd()
        workdir = tempfile.mkdtemp(prefix="tunescope-aisara-cloud-")
        real_requests = package.requests
        output = _ThreadOutputToLog(sys.stdout, threading.get_ident(), session.api_key)
        try:
            os.chdir(workdir)
            package.requests = session
            # aisaratuners 1.5.2 encodes the trial table with str() of a list
            # of NumPy scalars, which NumPy 2 prints as "np.float64(18.0)"
            # where the service expects plain numbers. NumPy's print options
            # are context-local, so this reaches only the search thread.
            with contextlib.redirect_stdout(output), np.printoptions(legacy="1.25"):
                self.optimizer.run_opti()
        except Exception as error:
            self._handle_run_error(error, package, session)
        finally:
            output.flush_remainder()
            package.requests = real_requests
            os.chdir(previous_cwd)
            shutil.rmtree(workdir, ignore_errors=True)

    def _handle_run_error(self, error: Exception, package: Any, session: ServiceSession) -> None:
        # The package wraps most requests in `except Exception` and raises its
        # own APIError, so the session keeps the first real failure for here.
        if session.failure is not None:
            raise session.failure from None
        if session.stop_requested:
            self.stop_reason = "cancelled"
        if self.stop_reason is not None:
            return
        if isinstance(error, TunescopeError):
            raise error
        if isinstance(error, (package.APIKey, package.InvalidAPIKey)):
            raise session.key_rejected("the aisaratuners package rejected it") from None
        if isinstance(error, package.APIError):
            raise TunescopeError(
                f"tuner '{self.tuner.name}' (aisara-cloud): unexpected response from the AiSara service at "
                f"{session.base_url} (aisaratuners could not read it); try again later, {OFFLINE_HINT}"
            ) from error
        raise error

    # -- trials ---------------------------------------------------------------

    def train_draw(self, draws: Any, index: int) -> tuple[_UnsavedModel, _History]:
        """Train the draw at row `index` of `draws`: the `model_func` of HpOptimization.

        `run_opti` calls this with the round's Latin hypercube draws, and once
        between rounds with the exploration point (a one-row frame). It reads
        `history[main][-1]` and `history[tie_break][-1]` from the result, so
        the history contains exactly those two metrics at the trial's best epoch.
        """
        if self.should_stop():
            self.stop_reason = "cancelled"
            raise SearchEnded(self.stop_reason)

        exploring = draws is not self.optimizer.comp
        if not exploring and draws is not self.round_draws:
            self.start_round(draws)

        raw = {name: draws[name].iloc[index] for name in self.experiment.space.names}
        values, problem = _conform(self.experiment.space.parameters, raw)
        if not exploring:
            # Keep the package's record of the round equal to what was trained.
            for name, value in values.items():
                if value is not None:
                    draws.at[draws.index[index], name] = value

        trial = self._run_trial(values, exploring, problem)
        if exploring:
            self.exploration = trial
        else:
            self.round_trials.append(trial)

        if trial.status == CANCELLED:
            self.stop_reason = "cancelled"
            raise SearchEnded(self.stop_reason)
        if len(self.trials) >= self.tuner.max_trials:
            self.stop_reason = f"max_trials {self.tuner.max_trials} reached"
            raise SearchEnded(self.stop_reason)
        return _UnsavedModel(), _History(self._reported_metrics(trial))

    def _run_trial(self, values: dict[str, Any], exploring: bool, problem: str) -> _Trial:
        number = len(self.trials) + 1
        suffix = "x" if exploring else f"t{len(self.round_trials) + 1}"
        trial = _Trial(f"r{self.round}-{suffix}", number, self.round, values)
        self.trials.append(trial)
        self.emit(
            TrialStarted(
                tuner=self.tuner.name,
                trial_id=trial.trial_id,
                number=number,
                hyperparameters=dict(values),
                epochs=self.tuner.epochs,
                round=self.round,
            )
        )

        epochs = 0
        fit_seconds = 0.0
        reason = problem
        fatal: TunescopeError | None = None
        try:
            if not problem:
                epochs, fit_seconds, reason = self._fit(trial)
        except TunescopeError as error:
            # A model family that cannot be built at all (ModelError) ends the
            # search, after its trial is on record.
            fatal = error
            reason = error.message
        except Exception as error:
            # Out of memory, invalid values for the model, a Keras error: the
            # trial fails and the search goes on.
            logger.warning("tuner %s: trial %s failed: %s", self.tuner.name, trial.trial_id, error, exc_info=True)
            reason = f"{type(error).__name__}: {error}".splitlines()[0]

        if trial.status != CANCELLED and reason:
            trial.status = FAILED
            trial.metrics, trial.objective, trial.model = {}, None, None
        self.emit(
            TrialFinished(
                tuner=self.tuner.name,
                trial_id=trial.trial_id,
                number=number,
                status=trial.status,
                hyperparameters=dict(values),
                metrics=dict(trial.metrics),
                objective=trial.objective,
                epochs=epochs,
                fit_seconds=fit_seconds,
                trainable_params=trial.trainable_params,
                reason=reason,
                round=self.round,
                rss_mb=_rss_mb(),
            )
        )
        if fatal is not None:
            raise fatal
        self._record_outcome(trial, reason)
        return trial

    def _fit(self, trial: _Trial) -> tuple[int, float, str]:
        """Train the trial's executions and return epochs run, fit seconds and a failure reason."""
        data = self.dataset
        epochs_run = 0
        fit_seconds = 0.0
        executions: list[tuple[dict[str, float], Any]] = []

        for _ in range(self.tuner.executions_per_trial):
            model = self.models.build_model(
                trial.values,
                self.experiment.model,
                data.input_shape,
                data.num_classes,
                search_paths=self.search_paths,
                training=self.experiment.training,
            )
            callback = _make_trial_callback(self, trial)
            started = time.perf_counter()
            history = model.fit(
                data.x_train,
                data.y_train,
                validation_data=(data.x_val, data.y_val),
                epochs=self.tuner.epochs,
                verbose=0,
                callbacks=[callback],
                **self.models.fit_options(trial.values, self.tuner.batch_size),
            )
            fit_seconds += time.perf_counter() - started
            epochs_run = max(epochs_run, len(history.epoch))

            if callback.stopped_by_request:
                trial.status = CANCELLED
                return epochs_run, fit_seconds, "stop requested"

            metrics, problem = self._best_epoch_metrics(history.history)
            if problem:
                return epochs_run, fit_seconds, problem
            callback.restore_best_weights(model)
            executions.append((metrics, model))

        # Average each metric over the executions, as Keras Tuner does, and
        # keep the model of the best execution for test evaluation.
        shared = [name for name in executions[0][0] if all(name in metrics for metrics, _ in executions)]
        trial.metrics = {name: sum(metrics[name] for metrics, _ in executions) / len(executions) for name in shared}
        trial.objective = trial.metrics[self.objective.metric]
        best_metrics, trial.model = executions[0]
        for metrics, model in executions[1:]:
            if self.objective.better(metrics[self.objective.metric], best_metrics[self.objective.metric]):
                best_metrics, trial.model = metrics, model
        trial.trainable_params = int(self.models.count_trainable_params(trial.model))
        return epochs_run, fit_seconds, ""

    def _best_epoch_metrics(self, history: Mapping[str, list[float]]) -> tuple[dict[str, float], str]:
        for metric in (self.objective.metric, self.tie_break):
            if metric not in history:
                return {}, f"the model does not report {metric!r}; it reports {', '.join(history)}"
        scores = history[self.objective.metric]
        finite = [i for i, value in enumerate(scores) if math.isfinite(value)]
        if not finite:
            return {}, f"{self.objective.metric} is not finite at any epoch (the training diverged)"
        pick = max if self.objective.direction == "max" else min
        best_epoch = pick(finite, key=lambda i: scores[i])
        metrics = {name: float(values[best_epoch]) for name, values in history.items() if best_epoch < len(values)}
        if not math.isfinite(metrics[self.tie_break]):
            return {}, f"{self.tie_break} is not finite at the best epoch (the training diverged)"
        return metrics, ""

    def _record_outcome(self, trial: _Trial, reason: str) -> None:
        if trial.status == COMPLETED:
            self.consecutive_failures = 0
            if self.best is None or self._ranks_higher(trial, self.best):
                if self.best is not None:
                    self.best.model = None
                self.best = trial
            else:
                trial.model = None
            return
        if trial.status == CANCELLED:
            return

        self.consecutive_failures += 1
        limit = self.experiment.max_consecutive_failures
        if self.consecutive_failures >= limit:
            raise TunescopeError(
                f"tuner '{self.tuner.name}' (aisara-cloud): {self.consecutive_failures} trials failed in a row, "
                f"the last ({trial.trial_id}) with: {reason}; fix the model or the search space, "
                "or raise experiment.max_consecutive_failures"
            )
        if self.best is None:
            # NOTE: run_opti needs a number for every trial it asked for, and
            # until one trial has completed there is no finite value to stand
            # in for a failed one, so an early failure ends the search.
            raise TunescopeError(
                f"tuner '{self.tuner.name}' (aisara-cloud): trial {trial.trial_id} failed before any trial "
                f"completed, with: {reason}; fix the model or the search space and run again"
            )

    def _reported_metrics(self, trial: _Trial) -> dict[str, list[float]]:
        """Return the two metrics `run_opti` reads, with the worst completed values for a failed trial."""
        if trial.status == COMPLETED:
            return {
                self.objective.metric: [trial.metrics[self.objective.metric]],
                self.tie_break: [trial.metrics[self.tie_break]],
            }
        completed = [t for t in self.trials if t.status == COMPLETED]
        worst = {}
        directions = {self.objective.metric: self.objective.direction, self.tie_break: self.tie_break_direction}
        for metric, direction in directions.items():
            values = [t.metrics[metric] for t in completed]
            worst[metric] = [min(values) if direction == "max" else max(values)]
        return worst

    def _ranks_higher(self, trial: _Trial, other: _Trial) -> bool:
        if trial.objective != other.objective:
            return self.objective.better(trial.objective, other.objective)
        mine, theirs = trial.metrics[self.tie_break], other.metrics[self.tie_break]
        return mine > theirs if self.tie_break_direction == "max" else mine < theirs

    # -- rounds ---------------------------------------------------------------

    def start_round(self, draws: Any) -> None:
        # run_opti moves on to the next round only after it stored the new
        # bounds, so the previous round is complete once its successor starts.
        self.finish_round()
        self.round += 1
        self.round_draws = draws
        self.round_bounds = _bounds_in_units(self.optimizer.hp_class)
        self.round_trials = []
        self.exploration = None
        self.impacts = {}
        self.predicted_best = {}

    def record_prediction(self, best: Any, impacts: Mapping[str, float]) -> None:
        """Store the service's predicted best point and impacts for the objective."""
        hps = self.optimizer.hp_class
        self.impacts = {name: float(value) for name, value in impacts.items()}
        self.predicted_best = {}
        for name in best.columns[:-1]:
            value = float(best[name].iloc[0])
            self.predicted_best[name] = _from_exponent(value) if name in hps.num_log else value

    def finish_round(self) -> None:
        """Emit RoundFinished for the round in progress if all its trials ran."""
        if self.round == 0 or len(self.round_trials) < self.trials_per_round:
            return
        next_bounds = _bounds_in_units(self.optimizer.hp_class)
        shrinking = any(
            next_bounds[name][1] - next_bounds[name][0] < high - low for name, (low, high) in self.round_bounds.items()
        )
        completed = [t for t in [*self.round_trials, self.exploration] if t is not None and t.status == COMPLETED]
        best = None
        for trial in completed:
            if best is None or self._ranks_higher(trial, best):
                best = trial

        logger.info(
            "tuner %s: round %d finished, best trial %s, bounds %s",
            self.tuner.name,
            self.round,
            best.trial_id if best else None,
            next_bounds,
        )
        self.emit(
            RoundFinished(
                tuner=self.tuner.name,
                round=self.round,
                bounds=self.round_bounds,
                next_bounds=next_bounds,
                impacts=self.impacts,
                predicted_best=self.predicted_best,
                exploration=dict(self.exploration.values) if self.exploration else None,
                best_trial_id=best.trial_id if best else None,
                shrinking=shrinking,
            )
        )
        self.round_trials = []

    def result(self) -> CloudResult:
        best = self.best
        return CloudResult(
            best_trial_id=best.trial_id if best else None,
            best_hyperparameters=dict(best.values) if best else {},
            best_objective=best.objective if best else None,
            best_metrics=dict(best.metrics) if best else {},
            best_model=best.model if best else None,
            trainable_params=best.trainable_params if best else None,
            trials_completed=sum(t.status == COMPLETED for t in self.trials),
            trials_failed=sum(t.status == FAILED for t in self.trials),
        )


def _observing_optimizer_class(base: type) -> type:
    """Subclass HpOptimization to pass the objective's grid prediction to a callback."""

    class ObservedHpOptimization(base):  # type: ignore[misc, valid-type]
        on_prediction: Callable[[Any, Mapping[str, float]], None] | None = None

        def gen_pred_call(self, results_log_df: Any, target: str, min_max: str) -> Any:
            best, impacts = super().gen_pred_call(results_log_df, target, min_max)
            # run_opti calls this twice between rounds: for the leave-one-out
            # error (the exploration point) and for the objective itself.
            if target == self.opti_para_main and self.on_prediction is not None:
                self.on_prediction(best, impacts)
            return best, impacts

    return ObservedHpOptimization


class _UnsavedModel:
    """A stand-in for the trained model that run_opti saves to ./models as HDF5.

    tunescope keeps the best model in memory, so the per-trial copies would
    only cost time and disk space in the temporary directory.
    """

    def save(self, path: str) -> None:
        logger.debug("skipped saving %s", path)


@dataclass
class _History:
    """The part of a Keras `History` that run_opti reads."""

    history: dict[str, list[float]]


def _make_trial_callback(search: _CloudSearch, trial: _Trial) -> Any:
    import keras

    class TrialCallback(keras.callbacks.Callback):
        """A Keras callback: emits epoch events, honours stop requests, keeps the best epoch's weights."""

        def __init__(self) -> None:
            super().__init__()
            self.stopped_by_request = False
            self.best_score: float | None = None
            self.best_weights: list[Any] | None = None

        def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
            search.emit(
                EpochStarted(
                    tuner=search.tuner.name, trial_id=trial.trial_id, epoch=epoch + 1, epochs=search.tuner.epochs
                )
            )

        def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
            if search.should_stop():
                self.stopped_by_request = True
                self.model.stop_training = True

        def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
            metrics = {name: float(value) for name, value in (logs or {}).items()}
            search.emit(
                EpochEnded(
                    tuner=search.tuner.name,
                    trial_id=trial.trial_id,
                    epoch=epoch + 1,
                    epochs=search.tuner.epochs,
                    metrics=metrics,
                )
            )
            score = metrics.get(search.objective.metric)
            if score is not None and math.isfinite(score):
                if self.best_score is None or search.objective.better(score, self.best_score):
                    self.best_score = score
                    self.best_weights = self.model.get_weights()

        def restore_best_weights(self, model: Any) -> None:
            # The reported metrics come from the best epoch, so the model
            # evaluated on the test set must carry that epoch's weights.
            if self.best_weights is not None:
                model.set_weights(self.best_weights)

    return TrialCallback()


# -- values and bounds ----------------------------------------------------------


def _conform(parameters: tuple[HyperParameter, ...], raw: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """Convert the package's draws into values of the search space, and return them with any problem.

    Values are clamped into the space's range and snapped to its int or
    float step, because aisaratuners 1.5.2 can compute bounds outside the
    original range for log hyperparameters. A value that is not a finite
    number (the package divides by a best value of 0) becomes None and a
    problem, and the trial fails with it.
    """
    values: dict[str, Any] = {}
    problems = []
    for parameter in parameters:
        value = float(raw[parameter.name])
        if not math.isfinite(value):
            problems.append(f"aisaratuners proposed {value} for {parameter.name}")
            values[parameter.name] = None
            continue

        clamped = min(max(value, float(parameter.min)), float(parameter.max))
        if clamped != value:
            logger.warning(
                "clamped %s = %g proposed by aisaratuners into [%g, %g]",
                parameter.name,
                value,
                parameter.min,
                parameter.max,
            )
        if parameter.type == "int":
            values[parameter.name] = min(parameter.int_values(), key=lambda v: abs(v - clamped))
        elif parameter.type == "float" and parameter.step:
            steps = round((clamped - parameter.min) / parameter.step)
            values[parameter.name] = float(min(parameter.min + steps * parameter.step, parameter.max))
        else:
            values[parameter.name] = clamped
    return values, "; ".join(problems)


def _bounds_in_units(hps: Any) -> dict[str, list[float]]:
    """Convert the package's current bounds to [min, max] in each hyperparameter's own units.

    `Hp.hps_dict_num` keeps log ranges as log10 exponents. The package can
    store a log range with min above max, so each pair is sorted.
    """
    bounds = {}
    for name, (low, high) in hps.hps_dict_num.items():
        low, high = float(low), float(high)
        if name in hps.num_log:
            low, high = _from_exponent(low), _from_exponent(high)
        bounds[name] = sorted([low, high])
    return bounds


def _from_exponent(exponent: float) -> float:
    # 10 ** log10(1e-4) is 1.0000000000000005e-04; 12 significant digits
    # restore the number the user wrote.
    return float(f"{10 ** exponent:.12g}")


def _rss_mb() -> float | None:
    try:
        import psutil
    except ImportError:
        return None
    return psutil.Process().memory_info().rss / 2**20


def _warn_if_untested_version(tuner_name: str) -> None:
    try:
        version = importlib.metadata.version("aisaratuners")
    except importlib.metadata.PackageNotFoundError:
        return
    if version != TESTED_PACKAGE_VERSION:
        logger.warning(
            "tuner %s: aisaratuners %s is installed; the aisara-cloud adapter was written against %s",
            tuner_name,
            version,
            TESTED_PACKAGE_VERSION,
        )


class _ThreadOutputToLog:
    """A stand-in for sys.stdout that logs one thread's writes and passes the rest on.

    The owning thread's text is logged line by line at DEBUG level, without
    ANSI colour codes and with the API key masked. Writes from other threads
    go to `passthrough` unchanged.
    """

    def __init__(self, passthrough: Any, owner: int, secret: str) -> None:
        self._passthrough = passthrough
        self._owner = owner
        self._secret = secret
        self._buffer = ""

    def write(self, text: str) -> int:
        if threading.get_ident() != self._owner:
            return self._passthrough.write(text)
        self._buffer += text
        while "\n" in self._buffer:
            line, self._buffer = self._buffer.split("\n", 1)
            self._log(line)
        return len(text)

    def flush(self) -> None:
        self._passthrough.flush()

    def flush_remainder(self) -> None:
        if self._buffer:
            self._log(self._buffer)
            self._buffer = ""

    def _log(self, line: str) -> None:
        line = _ANSI_ESCAPE.sub("", line).rstrip()
        if self._secret:
            line = line.replace(self._secret, "***")
        if line.strip():
            logger.debug("aisaratuners: %s", line)

    def __getattr__(self, name: str) -> Any:
        # encoding, isatty, fileno and the rest behave as the real stream's.
        return getattr(self._passthrough, name)
