"""The study engine: runs each tuner of an experiment and reports as it goes.

Tuners run one after another, so their timings do not disturb each other.
`Study.run` blocks; callers run it in a worker thread and watch the events.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from .config import Experiment, TunerConfig
from .data import Dataset, load_dataset
from .errors import ModelError, TunescopeError
from .events import (
    FINISHED,
    STOPPED,
    EventBus,
    EventSink,
    StudyFinished,
    StudyStarted,
    TunerFinished,
    TunerStarted,
)
from .store import RunDir

logger = logging.getLogger(__name__)

FAILED_STUDY = "failed"


@contextlib.contextmanager
def native_stderr_to_log() -> Iterator[None]:
    """Send what native code writes to stderr into the debug log instead.

    TensorFlow's C++ runtime prints start-up notices (oneDNN, CUDA probing)
    straight to file descriptor 2 whatever TF_CPP_MIN_LOG_LEVEL says, which
    would land over the live view. Only file descriptor 2 is redirected, and
    only while the block runs.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        # No usable stderr (a closed descriptor, a test harness): nothing to hide.
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", errors="replace").strip()
            if text:
                logger.debug("native output:\n%s", text)


def import_tensorflow() -> Any:
    """Import TensorFlow and Keras with their C++ and Python logging kept quiet."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with native_stderr_to_log():
        import keras  # noqa: F401  (imported here so its start-up output is captured too)
        import tensorflow as tf

        # The first device query initialises CUDA, which reports a missing
        # driver on stderr; do it here, while that output is captured.
        tf.config.list_physical_devices("GPU")

    tf.get_logger().setLevel(logging.ERROR)
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:
        pass
    return tf


def device_description() -> str:
    """Describe the device training runs on, enabling GPU memory growth.

    Memory growth lets TensorFlow take GPU memory as it needs it instead of
    all of it at start, so other processes can share the GPU.
    """
    tf = import_tensorflow()
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return f"CPU ({os.cpu_count()} cores)"

    names = []
    for index, gpu in enumerate(gpus):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:
            # Raised once TensorFlow has already initialised this GPU.
            pass
        details = tf.config.experimental.get_device_details(gpu)
        names.append(f"GPU {index}: {details.get('device_name', gpu.name)}")
    return ", ".join(names)


class Study:
    """One experiment's tuners, run in turn, with events sent to `sinks`.

    Pass `dataset` to reuse data already loaded (the command line loads it
    before creating the run directory, so bad data writes nothing).
    """

    def __init__(
        self,
        experiment: Experiment,
        run_dir: RunDir,
        sinks: Sequence[EventSink] = (),
        dataset: Dataset | None = None,
    ) -> None:
        self.experiment = experiment
        self.run_dir = RunDir(run_dir.path.resolve())
        self.bus = EventBus(sinks)
        self.dataset = dataset
        self._cancel = threading.Event()

    def cancel(self) -> None:
        """Ask the study to stop after the current epoch; safe from any thread."""
        if not self._cancel.is_set():
            logger.info("cancel requested: stopping after the current epoch")
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def run(self) -> list[TunerFinished]:
        """Run every tuner and return their results, in order.

        Raises `TunescopeError` for input problems found only now (a data set
        that cannot be loaded). A tuner that fails ends with a failed
        `TunerFinished` and the next tuner still runs.
        """
        experiment = self.experiment
        started = time.perf_counter()
        device = device_description()
        logger.debug("study %s starting on %s, run directory %s", experiment.name, device, self.run_dir.path)
        self.bus.emit(
            StudyStarted(
                study=experiment.name,
                run_dir=str(self.run_dir.path),
                tuners=[t.name for t in experiment.tuners],
                objective=experiment.objective.metric,
                direction=experiment.objective.direction,
                space=experiment.space.to_dicts(),
                seed=experiment.seed,
                device=device,
                dataset=experiment.dataset.name,
                model=experiment.model.family,
            )
        )

        results: list[TunerFinished] = []
        status, reason = FINISHED, ""
        try:
            if self.dataset is None:
                self.dataset = load_dataset(experiment.dataset, seed=experiment.seed)
            for tuner in experiment.tuners:
                if self.cancelled:
                    break
                results.append(self._run_tuner(tuner, self.dataset))
        except TunescopeError as error:
            status, reason = FAILED_STUDY, str(error)
            raise
        except BaseException as error:
            status, reason = FAILED_STUDY, f"{type(error).__name__}: {error}"
            raise
        finally:
            if self.cancelled and status == FINISHED:
                status, reason = STOPPED, "cancelled by the user"
            seconds = time.perf_counter() - started
            self.bus.emit(StudyFinished(status=status, seconds=round(seconds, 3), reason=reason))
            logger.debug("study %s %s after %.1f s", experiment.name, status, seconds)
        return results

    def _run_tuner(self, tuner: TunerConfig, dataset: Dataset) -> TunerFinished:
        from .tuners.runner import run_tuner

        logger.debug("tuner %s (%s) starting: %d trials of %d epochs", tuner.name, tuner.type, tuner.max_trials, tuner.epochs)
        self.bus.emit(
            TunerStarted(
                tuner=tuner.name,
                tuner_type=tuner.type,
                max_trials=tuner.max_trials,
                epochs=tuner.epochs,
                executions_per_trial=tuner.executions_per_trial,
                settings=dict(tuner.settings),
            )
        )
        result = run_tuner(
            tuner,
            self.experiment,
            dataset,
            project_dir=self.run_dir.keras_tuner,
            best_model_path=self.run_dir.best_models / f"{tuner.name}.keras",
            emit=self.bus.emit,
            cancel_requested=self._cancel.is_set,
        )
        self.bus.emit(result)
        # The events already show a normal finish; the log adds only trouble.
        level = logging.DEBUG if result.status == FINISHED else logging.WARNING
        logger.log(level, "tuner %s %s after %.1f s%s", tuner.name, result.status, result.search_seconds,
                   f": {result.reason}" if result.reason else "")
        return result



def check_model(experiment: Experiment, dataset: Dataset) -> None:
    """Build the model once with each hyperparameter's first value.

    Catches a model that cannot be built at all (a broken custom function,
    image-only layers on flat data) before the run directory exists.
    Raises `ModelError`.
    """
    from .models import build_model

    values: dict[str, Any] = {}
    for parameter in experiment.space:
        if parameter.default is not None:
            values[parameter.name] = parameter.default
        elif parameter.type == "choice":
            values[parameter.name] = parameter.values[0]
        elif parameter.type == "int":
            values[parameter.name] = int(parameter.min)
        else:
            values[parameter.name] = parameter.min
    try:
        build_model(values, experiment.model, dataset.input_shape, dataset.num_classes, experiment.search_paths())
    except TunescopeError:
        raise
    except Exception as error:
        raise ModelError(
            f"the {experiment.model.family} model cannot be built for {dataset.name} "
            f"(input shape {dataset.input_shape}) with {values}: {type(error).__name__}: {error}"
        ) from None
    finally:
        import keras

        keras.backend.clear_session()
