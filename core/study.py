"""The study engine: runs each tuner of an experiment and reports as it goes.

Tuners run one after another, so their timings do not disturb each other.
`Study.run` blocks; callers run it in a worker thread and watch the events.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from .config import Experiment, TrainingConfig, TunerConfig
from .data import Dataset, load_dataset
from .errors import ModelError, TunescopeError
from .events import (
    FINISHED,
    STOPPED,
    USER_CANCELLED,
    Event,
    EventBus,
    EventSink,
    StudyFinished,
    StudyStarted,
    TrialFinished,
    TunerFinished,
    TunerStarted,
)
from .resume import ResumePlan
from .store import RunDir

logger = logging.getLogger(__name__)

FAILED_STUDY = "failed"

# Thresholds of the memory-growth warning, which `MemoryWatch` explains.
MEMORY_WINDOW = 10
MEMORY_GROWTH_MB = 200.0
MEMORY_NOISE_MB = 16.0


@contextlib.contextmanager
def native_stderr_to_log() -> Iterator[None]:
    """Send what native code writes to stderr into the debug log instead.

    TensorFlow's C++ runtime prints start-up notices (oneDNN, CUDA probing)
    straight to file descriptor 2 whatever TF_CPP_MIN_LOG_LEVEL is set to, which
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


def warn_about_training(training: TrainingConfig) -> None:
    """Log a warning when mixed precision is on but no GPU is visible."""
    if not training.mixed_precision:
        return
    tf = import_tensorflow()
    if not tf.config.list_physical_devices("GPU"):
        logger.warning(
            "training.mixed_precision is on but no GPU is visible. Mixed precision is meant for GPUs with "
            "float16 units, and on a CPU it lowers precision without a dependable speed-up. Set "
            "mixed_precision = false in [training] unless that is intended"
        )


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """Collect the garbage once, then exclude every object alive now from later collections.

    A full collection scans every object TensorFlow and Keras created at
    import, 0.4 to 1.3 s each with TensorFlow 2.21 on a 2-core CPU
    (benchmarks/bench_overhead.py --profile). Frozen objects are never
    scanned, so the collections between trials cover only the study's own
    objects. The one full collection here runs before any tuner's clock
    starts, like the loading of the data set.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


class Study:
    """One experiment's tuners, run in turn, with events sent to `sinks`.

    Pass `dataset` to reuse data already loaded (the command line loads it
    before creating the run directory, so bad data writes nothing). Pass
    `resume` (from `plan_resume`) to continue a run that an earlier process
    left unfinished: finished tuners are skipped, the others continue their
    Keras Tuner projects.
    """

    def __init__(
        self,
        experiment: Experiment,
        run_dir: RunDir,
        sinks: Sequence[EventSink] = (),
        dataset: Dataset | None = None,
        resume: ResumePlan | None = None,
    ) -> None:
        self.experiment = experiment
        self.run_dir = RunDir(run_dir.path.resolve())
        self.bus = EventBus([*sinks, MemoryWatch()])
        self.dataset = dataset
        self.resume = resume
        self._cancel = threading.Event()
        self._stop_reason = USER_CANCELLED

    def cancel(self, reason: str = "") -> None:
        """Ask the study to stop after the current epoch; safe from any thread.

        The first call's `reason` becomes the reason of the journal's
        `StudyFinished`; an empty one means `USER_CANCELLED`.
        """
        if not self._cancel.is_set():
            if reason:
                self._stop_reason = reason
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
        verb = "resuming" if self.resume is not None else "starting"
        logger.debug("study %s %s on %s, run directory %s", experiment.name, verb, device, self.run_dir.path)
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
                config_dir=self._config_dir(),
            )
        )

        results: list[TunerFinished] = []
        status, reason = FINISHED, ""
        try:
            if self.dataset is None:
                self.dataset = load_dataset(experiment.dataset, seed=experiment.seed)
            warn_about_training(experiment.training)
            with frozen_heap():
                for tuner in experiment.tuners:
                    if self.cancelled:
                        break
                    if self.resume is not None and self.resume.skips(tuner.name):
                        logger.info("tuner %s finished in an earlier process; skipped", tuner.name)
                        results.append(self.resume.finished[tuner.name])
                        continue
                    results.append(self._run_tuner(tuner, self.dataset))
        except TunescopeError as error:
            status, reason = FAILED_STUDY, str(error)
            raise
        except BaseException as error:
            status, reason = FAILED_STUDY, f"{type(error).__name__}: {error}"
            raise
        finally:
            if self.cancelled and status == FINISHED:
                status, reason = STOPPED, self._stop_reason
            seconds = time.perf_counter() - started
            self.bus.emit(StudyFinished(status=status, seconds=round(seconds, 3), reason=reason))
            logger.debug("study %s %s after %.1f s", experiment.name, status, seconds)
        return results

    def _config_dir(self) -> str:
        if self.resume is not None and self.resume.study.config_dir:
            return self.resume.study.config_dir
        return str(self.experiment.base_dir) if self.experiment.base_dir is not None else ""

    def _run_tuner(self, tuner: TunerConfig, dataset: Dataset) -> TunerFinished:
        from .tuners.runner import run_tuner

        resume = self.resume.tuners.get(tuner.name) if self.resume is not None else None
        previous_seconds = resume.previous_search_seconds if resume is not None else 0.0
        logger.debug("tuner %s (%s) starting: %d trials of %d epochs", tuner.name, tuner.type, tuner.max_trials, tuner.epochs)
        self.bus.emit(
            TunerStarted(
                tuner=tuner.name,
                tuner_type=tuner.type,
                max_trials=tuner.max_trials,
                epochs=tuner.epochs,
                executions_per_trial=tuner.executions_per_trial,
                settings=dict(tuner.settings),
                previous_search_seconds=previous_seconds,
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
            resume=resume,
            stop_reason=lambda: self._stop_reason,
        )
        self.bus.emit(result)
        # The events already show a normal finish; the log adds only trouble.
        level = logging.DEBUG if result.status == FINISHED else logging.WARNING
        logger.log(level, "tuner %s %s after %.1f s%s", tuner.name, result.status, result.search_seconds,
                   f": {result.reason}" if result.reason else "")
        return result



class MemoryWatch:
    """An event sink that warns once when resident memory keeps growing from trial to trial.

    The tuner releases each trial's model and traced graph before it builds
    the next one, so the memory after a trial should level off. The watch
    reads `TrialFinished.rss_mb` and warns when two tests pass. Memory is
    more than `growth_mb` above the lowest value seen in the study, which
    catches a slow leak once it adds up. And over the last `window` trials,
    memory rose after at least three quarters of them and never fell by more
    than `noise_mb` between two, which leaves out one large model that
    raises memory once and then levels off.
    """

    def __init__(
        self,
        window: int = MEMORY_WINDOW,
        growth_mb: float = MEMORY_GROWTH_MB,
        noise_mb: float = MEMORY_NOISE_MB,
    ) -> None:
        self.window = window
        self.growth_mb = growth_mb
        self.noise_mb = noise_mb
        self.samples: list[float] = []
        self.lowest: float | None = None
        self.warned = False

    def __call__(self, event: Event) -> None:
        if not isinstance(event, TrialFinished) or event.rss_mb is None or self.warned:
            return
        self.lowest = event.rss_mb if self.lowest is None else min(self.lowest, event.rss_mb)
        self.samples = [*self.samples[1 - self.window:], event.rss_mb]
        if self.growing():
            self.warned = True
            logger.warning(
                "resident memory grew to %.0f MB, %.0f MB above its lowest in this study, and rose after most of "
                "the last %d trials; if it keeps growing, stop the run and continue it in a fresh process with "
                "`tunescope resume RUN_DIR`",
                self.samples[-1],
                self.samples[-1] - self.lowest,
                self.window,
            )

    def growing(self) -> bool:
        """Return whether the samples held now show the growth that warrants the warning."""
        samples = self.samples
        if len(samples) < self.window or self.lowest is None:
            return False
        steps = [later - earlier for earlier, later in zip(samples, samples[1:])]
        rising = sum(step > 0 for step in steps)
        steady = rising * 4 >= len(steps) * 3 and min(steps) >= -self.noise_mb
        return steady and samples[-1] - self.lowest > self.growth_mb


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
        build_model(
            values,
            experiment.model,
            dataset.input_shape,
            dataset.num_classes,
            experiment.search_paths(),
            experiment.training,
        )
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
