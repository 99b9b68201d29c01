"""The one Keras Tuner `Tuner` every oracle runs through.

Keeping a single training loop for all tuner types keeps the comparison fair:
the same model building, fitting, timing, failure handling and events, with
only the oracle (the search strategy) changing. It is built on Keras Tuner's
own `Tuner`, so its chief/worker mode spreads any tuner over several hosts.

This module imports Keras and Keras Tuner at import time; the engine imports
it only when a study starts.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import keras_tuner
from keras_tuner.src import backend as keras_tuner_backend
from keras_tuner.src import config as keras_tuner_config
from keras_tuner.src import utils as keras_tuner_utils
from keras_tuner.src.engine import tuner_utils as keras_tuner_tuner_utils

from ..config import ModelConfig, TrainingConfig
from ..data import InputPipelines
from ..events import (
    CANCELLED,
    COMPLETED,
    FAILED,
    USER_CANCELLED,
    EpochEnded,
    EpochStarted,
    Event,
    TrialFinished,
    TrialStarted,
)
from ..models import build_model, count_trainable_params, fit_options

logger = logging.getLogger(__name__)

# Keras Tuner 1.4 ships with DEBUG on, which prints the traceback of every
# failed trial to stderr, over the live view. The traceback stays on the
# trial (`trial.message`), and tunescope logs it at debug level.
keras_tuner_config.DEBUG = False


def _save_json_atomically(path: str, obj: Any) -> str:
    """Write Keras Tuner's state files so that a kill never leaves half a file.

    Keras Tuner 1.4.8 rewrites oracle.json, tuner0.json and each trial.json
    in place, so a kill during the write left a file that no longer loads,
    and the run could not be resumed. The text goes to a temporary file in
    the same folder first, and `os.replace` swaps it in at once.
    """
    text = json.dumps(obj)
    if "://" in str(path):
        # Remote file systems (gs://) go through TensorFlow's file API as before.
        with keras_tuner_backend.io.File(path, "w") as handle:
            handle.write(text)
        return text
    temporary = f"{path}.tmp-{os.getpid()}-{threading.get_ident()}"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, path)
    return text


keras_tuner_utils.save_json = _save_json_atomically

# Values Keras Tuner's Hyperband oracle adds to each trial for its own
# bookkeeping; they are not hyperparameters of the model.
_HYPERBAND_KEYS = ("tuner/epochs", "tuner/initial_epoch", "tuner/bracket", "tuner/round", "tuner/trial_id")


class StudyCancelled(keras_tuner.errors.FatalError):
    """Raised inside a trial to end the search after a cancel request."""


class FamilyHyperModel(keras_tuner.HyperModel):
    """Builds a model family from a trial's hyperparameter values, by name.

    With `pipelines`, a fit on that data set's training arrays trains on its
    prefetching `tf.data` pipelines instead, built once per batch size.
    """

    def __init__(
        self,
        model: ModelConfig,
        input_shape: tuple[int, ...],
        num_classes: int,
        batch_size: int,
        search_paths: tuple[Path, ...] = (),
        training: TrainingConfig | None = None,
        pipelines: InputPipelines | None = None,
    ) -> None:
        super().__init__()
        self.model_config = model
        self.search_paths = search_paths
        self.training = training
        self.pipelines = pipelines
        self.input_shape = input_shape
        self.num_classes = num_classes
        self.batch_size = batch_size

    def build(self, hp: keras_tuner.HyperParameters) -> keras.Model:
        return build_model(
            hp.values, self.model_config, self.input_shape, self.num_classes, self.search_paths, self.training
        )

    def fit(self, hp: keras_tuner.HyperParameters, model: keras.Model, *args: Any, **kwargs: Any) -> Any:
        kwargs.update(fit_options(hp.values, self.batch_size))
        pipelines = self.pipelines
        validation_data = kwargs.get("validation_data")
        if (
            pipelines is None
            or len(args) != 2
            or args[0] is not pipelines.dataset.x_train
            or not isinstance(validation_data, tuple)
            or validation_data[0] is not pipelines.dataset.x_val
        ):
            return model.fit(*args, **kwargs)

        # The pipeline shuffles every epoch itself, and Keras warns when
        # `shuffle` is left on for a tf.data input.
        training, validation = pipelines.fit_data(kwargs.pop("batch_size"))
        kwargs.update(validation_data=validation, shuffle=False)
        return model.fit(training, **kwargs)


@dataclass
class _TrialRecord:
    """The facts the tuner records about the running trial while it trains."""

    started: float = field(default_factory=time.perf_counter)
    fit_seconds: float = 0.0
    epochs: int = 0
    trainable_params: int | None = None
    cancelled: bool = False


class _EpochReporter(keras.callbacks.Callback):
    """Emits epoch events, fails the trial on a non-finite loss, honours cancel."""

    def __init__(self, tuner: StudyTuner, trial_id: str, epochs: int, record: _TrialRecord) -> None:
        super().__init__()
        self.tuner = tuner
        self.trial_id = trial_id
        self.epochs = epochs
        self.record = record

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self.tuner.emit(EpochStarted(self.tuner.name, self.trial_id, epoch + 1, self.epochs))

    # The loss is checked once per epoch, not per batch: a batch hook would
    # force a device sync on every step and slow every trial down.
    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        metrics = {name: float(value) for name, value in (logs or {}).items()}
        self.record.epochs = max(self.record.epochs, epoch + 1)
        self.tuner.emit(EpochEnded(self.tuner.name, self.trial_id, epoch + 1, self.epochs, metrics))
        loss = metrics.get("loss")
        if loss is not None and not math.isfinite(loss):
            raise keras_tuner.errors.FailedTrialError(f"loss became {loss} in epoch {epoch + 1}; lower the learning rate")
        # A trial whose last epoch has run is complete, so a cancel then keeps it.
        if self.tuner.cancel_requested() and epoch + 1 < self.epochs:
            self.record.cancelled = True
            self.model.stop_training = True


class _BestEpochWeights(keras.callbacks.Callback):
    """Keeps the weights of the best epoch in memory.

    Keras Tuner's own `SaveBestEpoch` writes a checkpoint at every improving
    epoch. Holding the weights in memory and writing them once per trial
    gives the same checkpoint for a fraction of the I/O.
    """

    def __init__(self, objective: keras_tuner.Objective) -> None:
        super().__init__()
        self.objective = objective
        self.best_value = -math.inf if objective.direction == "max" else math.inf
        self.weights: list[Any] | None = None

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        if not self.objective.has_value(logs):
            self.weights = self.model.get_weights()
            return
        value = self.objective.get_value(logs)
        if self.objective.better_than(value, self.best_value) or self.weights is None:
            self.best_value = value
            self.weights = self.model.get_weights()


class StudyTuner(keras_tuner.Tuner):
    """A `keras_tuner.Tuner` that reports every step as a tunescope event.

    `emit` receives the events; `cancel_requested` is polled after every epoch
    and between trials. Trials that raise, whose loss turns NaN or that run
    out of memory become failed trials with a one-line reason. `numbers`
    maps the trial ids of an earlier process of a resumed run to their
    numbers, so that numbering continues.
    """

    def __init__(
        self,
        oracle: keras_tuner.Oracle,
        hypermodel: FamilyHyperModel,
        name: str,
        epochs: int,
        emit: Callable[[Event], None],
        cancel_requested: Callable[[], bool],
        numbers: Mapping[str, int] | None = None,
        **kwargs: Any,
    ) -> None:
        self.name = name
        self.epochs = epochs
        self.emit = emit
        self.cancel_requested = cancel_requested
        self._records: dict[str, _TrialRecord] = {}
        self._records_lock = threading.Lock()
        self._numbers: dict[str, int] = dict(numbers or {})
        _remember_process_gradients()
        super().__init__(oracle=oracle, hypermodel=hypermodel, **kwargs)

    # The space is declared in full on the oracle, and the families read
    # values by name without registering new ones, so Keras Tuner's initial
    # model build to discover hyperparameters would only cost time.
    def _populate_initial_space(self) -> None:
        return None

    # -- trial lifecycle ----------------------------------------------------

    def pre_create_trial(self) -> None:
        if self.cancel_requested():
            raise StudyCancelled("the study was cancelled")

    def on_trial_begin(self, trial: keras_tuner.engine.trial.Trial) -> None:
        super().on_trial_begin(trial)
        with self._records_lock:
            self._records[trial.trial_id] = _TrialRecord()
            number = self._numbers.setdefault(trial.trial_id, max(self._numbers.values(), default=0) + 1)
        self.emit(
            TrialStarted(
                tuner=self.name,
                trial_id=trial.trial_id,
                number=number,
                hyperparameters=self.model_values(trial.hyperparameters.values),
                epochs=self._trial_epochs(trial.hyperparameters.values),
                round=self._round_of(trial.trial_id),
            )
        )

    def on_trial_end(self, trial: keras_tuner.engine.trial.Trial) -> None:
        # The oracle scores the trial and may raise when too many trials in
        # a row failed; the trial's row is written either way.
        try:
            super().on_trial_end(trial)
        finally:
            self.emit(self._finished_event(self.oracle.get_trial(trial.trial_id)))

    def record_cancelled_trial(self, trial_id: str, reason: str = USER_CANCELLED) -> None:
        """Write the row of a trial that a cancel request interrupted, with the request's reason."""
        trial = self.oracle.trials.get(trial_id)
        if trial is None:
            return
        event = self._finished_event(trial)
        event.status = CANCELLED
        event.objective = None
        event.reason = reason
        self.emit(event)

    def record_ended_trial(self, trial_id: str, reason: str = "") -> None:
        """Write the row of a trial that ended outside this process's training loop.

        A resumed run uses it for a trial whose end the oracle saved before
        the process died, and for a trial given up after repeated
        interruptions. `reason` replaces the row's reason when given.
        """
        trial = self.oracle.trials[trial_id]
        with self._records_lock:
            self._numbers.setdefault(trial_id, max(self._numbers.values(), default=0) + 1)
        event = self._finished_event(trial)
        if event.status == COMPLETED and event.epochs == 0:
            # The epoch count was lost with the process; a completed trial ran them all.
            event.epochs = self._trial_epochs(trial.hyperparameters.values)
        if reason:
            event.reason = reason
        self.emit(event)

    def running_trial_ids(self) -> list[str]:
        return [trial.trial_id for trial in self.oracle.ongoing_trials.values()]

    # -- training -----------------------------------------------------------

    def run_trial(self, trial: keras_tuner.engine.trial.Trial, *args: Any, **kwargs: Any) -> list[Any]:
        values = trial.hyperparameters.values
        if "tuner/epochs" in values:
            kwargs["epochs"] = values["tuner/epochs"]
            kwargs["initial_epoch"] = values["tuner/initial_epoch"]
        epochs = kwargs.get("epochs", self.epochs)
        record = self._records[trial.trial_id]

        best_weights = _BestEpochWeights(self.oracle.objective)
        histories = []
        for execution in range(self.executions_per_trial):
            if execution > 0 and self.cancel_requested():
                # Another execution would train a whole model after the cancel.
                raise StudyCancelled("the study was cancelled")
            model = self._try_build(trial.hyperparameters)
            record.trainable_params = count_trainable_params(model)
            callbacks = [
                *kwargs.get("callbacks", []),
                _EpochReporter(self, trial.trial_id, epochs, record),
                best_weights,
            ]
            started = time.perf_counter()
            try:
                history = self.hypermodel.fit(trial.hyperparameters, model, *args, **{**kwargs, "callbacks": callbacks})
            except Exception as error:
                if _is_out_of_memory(error):
                    raise keras_tuner.errors.FailedTrialError(
                        f"out of memory ({type(error).__name__}); lower batch_size or the model's size"
                    ) from error
                raise
            finally:
                record.fit_seconds += time.perf_counter() - started
            histories.append(history)
            if record.cancelled:
                raise StudyCancelled("the study was cancelled")

        if best_weights.weights is not None and self._may_need_checkpoint(trial, histories):
            model.set_weights(best_weights.weights)
            model.save_weights(self._get_checkpoint_fname(trial.trial_id))
        return histories

    def _may_need_checkpoint(self, trial: keras_tuner.engine.trial.Trial, histories: list[Any]) -> bool:
        """Return whether the trial's checkpoint can ever be read.

        Hyperband continues trials from their checkpoints, so its trials
        always write one. Otherwise only the best trial's weights are read
        (the best model's evaluation, and `resume`), and scores never change
        once a trial ends. A trial that scores below a finished trial can
        therefore never become the best. A tie still writes, whatever rule
        the oracle uses to break ties.
        """
        if "tuner/epochs" in trial.hyperparameters.values:
            return True
        objective = self.oracle.objective
        try:
            score = keras_tuner_tuner_utils.convert_to_metrics_dict(histories, objective).get(objective.name)
        except (KeyError, TypeError, ValueError):
            return True
        if score is None or not math.isfinite(score):
            return True
        finished = [
            best
            for best in self.oracle.get_best_trials(1)
            if best.status == keras_tuner.engine.trial.TrialStatus.COMPLETED
            and best.score is not None
            and math.isfinite(best.score)
        ]
        return not finished or not objective.better_than(finished[0].score, score)

    def _try_build(self, hp: keras_tuner.HyperParameters) -> keras.Model:
        # The earlier trials' graphs are collectable only once released.
        _release_trial_gradients()
        _reset_keras_state()
        model = self._build_hypermodel(hp)
        if not isinstance(model, keras.Model):
            raise keras_tuner.errors.FatalTypeError(
                f"the model family returned {type(model).__name__}, not a keras.Model"
            )
        return model

    def _build_hypermodel(self, hp: keras_tuner.HyperParameters) -> keras.Model:
        model = super()._build_hypermodel(hp)
        # Hyperband continues a promising trial from its parent's weights.
        parent = hp.values.get("tuner/trial_id")
        if parent is not None:
            with _quiet_optimizer_warning():
                model.load_weights(self._get_checkpoint_fname(parent))
        return model

    def load_model(self, trial: keras_tuner.engine.trial.Trial) -> keras.Model:
        with _quiet_optimizer_warning():
            return super().load_model(trial)

    # -- helpers ------------------------------------------------------------

    def model_values(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Hyperparameter values without Hyperband's bookkeeping entries."""
        return {key: value for key, value in values.items() if key not in _HYPERBAND_KEYS}

    def _trial_epochs(self, values: Mapping[str, Any]) -> int:
        if "tuner/epochs" in values:
            return int(values["tuner/epochs"]) - int(values["tuner/initial_epoch"])
        return self.epochs

    def _round_of(self, trial_id: str) -> int | None:
        trial_round = getattr(self.oracle, "trial_round", None)
        return trial_round(trial_id) if trial_round else None

    def _finished_event(self, trial: keras_tuner.engine.trial.Trial) -> TrialFinished:
        record = self._records.pop(trial.trial_id, None) or _TrialRecord()
        status = trial.status
        metrics = {name: float(trial.metrics.get_last_value(name)) for name in trial.metrics.metrics}

        objective = None
        reason = ""
        if status == keras_tuner.engine.trial.TrialStatus.COMPLETED:
            objective = float(trial.score) if trial.score is not None else None
            outcome = COMPLETED
        else:
            outcome = FAILED
            reason = short_reason(trial.message)
            metrics = {}
            logger.debug("trial %s of %s failed:\n%s", trial.trial_id, self.name, trial.message)

        return TrialFinished(
            tuner=self.name,
            trial_id=trial.trial_id,
            number=self._numbers.get(trial.trial_id, 0),
            status=outcome,
            hyperparameters=self.model_values(trial.hyperparameters.values),
            metrics=metrics,
            objective=objective,
            epochs=record.epochs,
            fit_seconds=round(record.fit_seconds, 4),
            trainable_params=record.trainable_params,
            reason=reason,
            round=self._round_of(trial.trial_id),
            rss_mb=_resident_mb(),
        )


@contextlib.contextmanager
def _quiet_optimizer_warning() -> Iterator[None]:
    # The checkpoint carries the optimizer's state, which a freshly built
    # model has not created yet; Keras skips it with a UserWarning that would
    # land on the user's terminal. Only the weights matter here.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        yield


def _is_out_of_memory(error: BaseException) -> bool:
    name = type(error).__name__
    return name in ("ResourceExhaustedError", "OutOfMemoryError", "MemoryError") or "OOM" in str(error)[:200]


def short_reason(message: str | None) -> str:
    """Reduce Keras Tuner's stored traceback to its final `Type: message` line."""
    if not message:
        return "failed without a message"
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    for line in reversed(lines):
        if ": " in line or line.endswith("Error"):
            type_name, _, text = line.partition(": ")
            type_name = type_name.rsplit(".", 1)[-1]
            if type_name == "FailedTrialError":
                return text
            return f"{type_name}: {text}" if text else type_name
    return lines[-1]


# -- memory between trials -----------------------------------------------------
#
# Each traced train step of Keras 3.15 on TensorFlow 2.21 registers a
# gradient function named "CustomGradient-<n>" in TensorFlow's global gradient
# registry (the optimizer's gradient all-reduce goes through
# `tf.custom_gradient`), and that function's closure keeps the whole traced
# graph alive. Nothing ever removes it, so every trial leaked about 6 MB
# (benchmarks/bench_memory.py: +290 MB over 50 small trials). The entries of
# finished trials are dropped before the next model is built; entries that
# existed before the first trial of the process are kept.
# NOTE: `ops._gradient_registry` is private to TensorFlow.

_CUSTOM_GRADIENT_PREFIX = "CustomGradient-"
_gradients_before_trials: set[str] | None = None


def _gradient_registry() -> dict[str, Any] | None:
    from tensorflow.python.framework import ops

    registry = getattr(getattr(ops, "_gradient_registry", None), "_registry", None)
    return registry if isinstance(registry, dict) else None


def _remember_process_gradients() -> None:
    global _gradients_before_trials
    registry = _gradient_registry()
    if _gradients_before_trials is None and registry is not None:
        _gradients_before_trials = set(registry)


def _release_trial_gradients() -> None:
    registry = _gradient_registry()
    if registry is None or _gradients_before_trials is None:
        return
    for name in [name for name in registry if name.startswith(_CUSTOM_GRADIENT_PREFIX)]:
        if name not in _gradients_before_trials:
            del registry[name]


def _reset_keras_state() -> None:
    """Reset Keras' global state before a model is built, as `clear_session()` does.

    A fresh state gives every trial's model the same layer names and drops
    what Keras' global state still refers to from the previous trial. Unlike
    `clear_session()` in Keras 3.15, this keeps TensorFlow's kernel cache and
    runs no forced full garbage collection. Refilling the cache made each
    build about 20 ms slower and each fit use more CPU, and the collection
    cost 20 to 30 ms per trial (benchmarks/bench_overhead.py on a 2-core
    CPU). Python's own collector frees the previous trial's objects instead.
    Memory stays bounded: +49 to +70 MB over 50 trials in three runs, almost
    all of it by the fifth trial (benchmarks/bench_memory.py).
    """
    # NOTE: the two trackers are private to Keras 3.15, so any other layout
    # falls back to the public call, which also empties the kernel cache.
    from keras.src.backend.common import global_state

    if not all(hasattr(global_state, name) for name in ("GLOBAL_STATE_TRACKER", "GLOBAL_SETTINGS_TRACKER")):
        keras.backend.clear_session(free_memory=False)
        return
    import tensorflow as tf

    global_state.GLOBAL_STATE_TRACKER = threading.local()
    global_state.GLOBAL_SETTINGS_TRACKER = threading.local()
    tf.compat.v1.reset_default_graph()


def _resident_mb() -> float | None:
    try:
        import psutil
    except ImportError:
        return None
    return round(psutil.Process().memory_info().rss / 2**20, 1)


def describe_exception(error: BaseException) -> str:
    """Return one line for an error that ended a tuner: its last traceback line."""
    return short_reason("".join(traceback.format_exception(error)))


