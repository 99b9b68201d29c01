"""A fast fake of `tunescope.core.study.Study` for the app's tests.

`FakeStudy` has the real study's interface (`run`, `cancel`) and emits the
same event types in the same order, with fixed timestamps and objective
values computed from the hyperparameters, so a screen fed by it looks the
same on every run. It trains nothing and imports no TensorFlow.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from textual.app import App
from textual.screen import Screen

from tunescope.core.config import Experiment, parse_experiment
from tunescope.core.errors import TunescopeError
from tunescope.core.events import (
    CANCELLED,
    COMPLETED,
    FAILED,
    FINISHED,
    STOPPED,
    EpochEnded,
    EpochStarted,
    Event,
    EventSink,
    RoundFinished,
    StudyFinished,
    StudyStarted,
    TrialFinished,
    TrialStarted,
    TunerFinished,
    TunerStarted,
)
from tunescope.core.store import RunDir
from tunescope.tui.study_handle import StudyHandle

# 2023-11-14 22:13:20 UTC; every event is one `CLOCK_STEP` later than the one before.
T0 = 1_700_000_000.0
CLOCK_STEP = 1.5
DEVICE = "FakeGPU 0 (test)"
FAILURE_REASON = "ResourceExhaustedError: out of memory allocating a 512x512 tensor (fake)"


SMALL_STUDY = """
[experiment]
name = "small"
seed = 3

[dataset]
name = "digits"

[model]
family = "dnn"

[budget]
max_trials = 4
epochs = 2

[[space]]
name = "num_layers"
type = "int"
min = 1
max = 4

[[space]]
name = "learning_rate"
type = "log"
min = 1e-4
max = 1e-2

[[tuners]]
type = "random"

[[tuners]]
type = "aisara"
trials_per_round = 2
rounds = 2
"""


def small_experiment() -> Experiment:
    return parse_experiment(SMALL_STUDY, source="small.toml")


class Host(App[None]):
    """An app that shows one screen, for testing that screen alone.

    When the app closes it resumes every paused fake study in `studies`, so
    that the study's worker thread ends and the event loop can shut down.
    """

    def __init__(self, screen: Screen[Any], studies: Sequence[FakeStudy] = ()) -> None:
        super().__init__()
        self.first_screen = screen
        self.studies = studies

    def on_mount(self) -> None:
        self.push_screen(self.first_screen)

    def on_unmount(self) -> None:
        for study in self.studies:
            study.resume.set()


class FakeStudy:
    """Emits a scripted study: every tuner's trials, epochs, AiSara rounds and ends.

    Trials numbered in `fail_trials` (1-based, counted per tuner) fail.
    With `pause_in_trial`, the study blocks after the first epoch of that
    trial (1-based, counted across tuners). It waits until `resume` is set
    or it is cancelled, and sets `paused` while it waits. `error` is raised
    from `run` after StudyStarted, as a study does when its data cannot be
    loaded.
    """

    def __init__(
        self,
        experiment: Experiment,
        run_dir: RunDir,
        sinks: Sequence[EventSink] = (),
        fail_trials: frozenset[int] = frozenset({2}),
        pause_in_trial: int | None = None,
        error: TunescopeError | None = None,
    ) -> None:
        self.experiment = experiment
        self.run_dir = run_dir
        self.sinks = list(sinks)
        self.fail_trials = fail_trials
        self.pause_in_trial = pause_in_trial
        self.error = error
        self.emitted: list[Event] = []
        self.paused = threading.Event()
        self.resume = threading.Event()
        self._cancel = threading.Event()
        self.stop_reason = "cancelled by the user"
        self._clock = T0
        self._trials_started = 0

    def cancel(self, reason: str = "") -> None:
        if reason and not self._cancel.is_set():
            self.stop_reason = reason
        self._cancel.set()
        self.resume.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def _emit(self, event: Event) -> None:
        event.time = self._clock
        self._clock += CLOCK_STEP
        self.emitted.append(event)
        for sink in self.sinks:
            sink(event)

    def run(self) -> list[TunerFinished]:
        experiment = self.experiment
        self._emit(
            StudyStarted(
                study=experiment.name,
                run_dir=str(self.run_dir.path),
                tuners=[t.name for t in experiment.tuners],
                objective=experiment.objective.metric,
                direction=experiment.objective.direction,
                space=experiment.space.to_dicts(),
                seed=experiment.seed,
                device=DEVICE,
                dataset=experiment.dataset.name,
                model=experiment.model.family,
            )
        )
        if self.error is not None:
            self._emit(StudyFinished(status="failed", seconds=0.0, reason=str(self.error)))
            raise self.error

        results = []
        for index, tuner in enumerate(experiment.tuners):
            if self.cancelled:
                break
            results.append(self._run_tuner(tuner, seed=experiment.seed + index))
        status = STOPPED if self.cancelled else FINISHED
        reason = self.stop_reason if self.cancelled else ""
        self._emit(StudyFinished(status=status, seconds=round(self._clock - T0, 3), reason=reason))
        return results

    def _run_tuner(self, tuner: Any, seed: int) -> TunerFinished:
        self._emit(
            TunerStarted(
                tuner=tuner.name,
                tuner_type=tuner.type,
                max_trials=tuner.max_trials,
                epochs=tuner.epochs,
                settings=dict(tuner.settings),
            )
        )
        started = self._clock
        space = self.experiment.space
        points = space.latin_hypercube(tuner.max_trials, seed=seed)
        per_round = int(tuner.settings.get("trials_per_round", 0)) if tuner.type.startswith("aisara") else 0
        finished: list[TrialFinished] = []

        for index, point in enumerate(points):
            number = index + 1
            round_number = (index // per_round) + 1 if per_round else None
            trial = self._run_trial(tuner, number, point, round_number)
            finished.append(trial)
            if trial.status == CANCELLED:
                break
            if per_round and number % per_round == 0:
                self._emit_round(tuner.name, round_number or 1, finished[-per_round:])

        completed = [t for t in finished if t.status == COMPLETED]
        better = max if self.experiment.objective.direction == "max" else min
        best = better(completed, key=lambda t: t.objective) if completed else None
        result = TunerFinished(
            tuner=tuner.name,
            status=STOPPED if self.cancelled else FINISHED,
            search_seconds=round(self._clock - started, 3),
            trials_completed=len(completed),
            trials_failed=sum(t.status == FAILED for t in finished),
            best_trial_id=best.trial_id if best else None,
            best_hyperparameters=dict(best.hyperparameters) if best else {},
            best_objective=best.objective if best else None,
            best_metrics=dict(best.metrics) if best else {},
            test_accuracy=round(best.objective - 0.01, 4) if best else None,
            test_loss=0.25 if best else None,
            trainable_params=best.trainable_params if best else None,
            reason="cancelled by the user" if self.cancelled else "",
        )
        self._emit(result)
        return result

    def _run_trial(self, tuner: Any, number: int, point: dict[str, Any], round_number: int | None) -> TrialFinished:
        self._trials_started += 1
        trial_id = f"{number:02d}"
        self._emit(TrialStarted(tuner.name, trial_id, number, dict(point), epochs=tuner.epochs, round=round_number))
        score = self._score(point)
        metrics: dict[str, float] = {}
        status, reason, epochs_run = COMPLETED, "", 0

        for epoch in range(tuner.epochs):
            self._emit(EpochStarted(tuner.name, trial_id, epoch + 1, tuner.epochs))
            if number in self.fail_trials and epoch == 0:
                status, reason = FAILED, FAILURE_REASON
                break
            progress = (epoch + 1) / tuner.epochs
            accuracy = round(score * (0.7 + 0.3 * progress), 4)
            metrics = {
                "loss": round(1.2 - accuracy, 4),
                "accuracy": accuracy,
                "val_loss": round(1.3 - accuracy, 4),
                "val_accuracy": round(accuracy - 0.01, 4),
            }
            self._emit(EpochEnded(tuner.name, trial_id, epoch + 1, tuner.epochs, dict(metrics)))
            epochs_run = epoch + 1
            self._maybe_pause()
            if self.cancelled:
                status, reason = CANCELLED, "cancelled by the user"
                break

        objective = metrics.get(self.experiment.objective.metric) if status == COMPLETED else None
        trial = TrialFinished(
            tuner=tuner.name,
            trial_id=trial_id,
            number=number,
            status=status,
            hyperparameters=dict(point),
            metrics=metrics if status == COMPLETED else {},
            objective=objective,
            epochs=epochs_run,
            fit_seconds=round(0.8 * epochs_run + 0.1 * number, 2),
            trainable_params=1000 + 37 * number,
            reason=reason,
            round=round_number,
        )
        self._emit(trial)
        return trial

    def _maybe_pause(self) -> None:
        if self.pause_in_trial is None or self._trials_started != self.pause_in_trial or self.paused.is_set():
            return
        self.paused.set()
        self.resume.wait(timeout=30)

    def _score(self, point: dict[str, Any]) -> float:
        """Compute a fixed objective in [0.6, 0.98] that rewards the middle of every numeric range."""
        total = 0.0
        for parameter in self.experiment.space:
            unit = parameter.to_unit(point[parameter.name])
            total += 1.0 - abs(unit - 0.5) * 2
        return round(0.6 + 0.38 * total / max(len(self.experiment.space), 1), 4)

    def _emit_round(self, tuner: str, number: int, trials: list[TrialFinished]) -> None:
        bounds, next_bounds, impacts = {}, {}, {}
        for position, parameter in enumerate(self.experiment.space):
            if not parameter.is_numeric:
                continue
            low, high = float(parameter.min), float(parameter.max)
            shrink = 0.5 ** number
            middle = (low * high) ** 0.5 if parameter.is_log else (low + high) / 2
            if parameter.is_log:
                next_low, next_high = middle * (low / middle) ** shrink, middle * (high / middle) ** shrink
            else:
                next_low, next_high = middle - (middle - low) * shrink, middle + (high - middle) * shrink
            bounds[parameter.name] = [low, high]
            next_bounds[parameter.name] = [round(next_low, 6), round(next_high, 6)]
            impacts[parameter.name] = round(0.6 / (position + 1), 3)
        completed = [t for t in trials if t.status == COMPLETED]
        self._emit(
            RoundFinished(
                tuner=tuner,
                round=number,
                bounds=bounds,
                next_bounds=next_bounds,
                impacts=impacts,
                predicted_best={name: pair[0] for name, pair in next_bounds.items()},
                best_trial_id=completed[0].trial_id if completed else None,
            )
        )


def fake_factory(studies: list[FakeStudy], **options: Any) -> Callable[[Experiment, RunDir, Sequence[EventSink]], FakeStudy]:
    """A study factory for `AppSettings` that builds `FakeStudy` objects and appends each to `studies`."""

    def build(experiment: Experiment, run_dir: RunDir, sinks: Sequence[EventSink]) -> FakeStudy:
        study = FakeStudy(experiment, run_dir, sinks, **options)
        studies.append(study)
        return study

    return build


def scripted_events(experiment: Experiment, run_dir: RunDir, **options: Any) -> list[Event]:
    """Run a `FakeStudy` to its end on this thread and return its events."""
    study = FakeStudy(experiment, run_dir, **options)
    study.run()
    return study.emitted


def run_async(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Turn an async test into one pytest runs without an asyncio plugin; fixtures still apply."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


async def settle(pilot: Any, condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Let the app process messages until `condition()` holds; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"condition still false after {timeout} s: {condition}")
        await pilot.pause(0.01)
    await pilot.pause()


def paused_study_in_thread(path: Path, pause_in_trial: int = 3) -> tuple[StudyHandle, FakeStudy]:
    """Run a fake study in `path` on a thread, behind a handle, until it pauses in trial `pause_in_trial`."""
    run_dir = RunDir(path)
    handle = StudyHandle(run_dir)
    study = FakeStudy(small_experiment(), run_dir, pause_in_trial=pause_in_trial)
    handle.attach(study)

    def run() -> None:
        try:
            study.run()
        finally:
            handle.finished.set()

    threading.Thread(target=run, daemon=True).start()
    assert study.paused.wait(timeout=10)
    return handle, study
