"""Run one tuner of a study: search, time it, and evaluate its best model."""

from __future__ import annotations

import contextlib
import io
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..config import Experiment, TunerConfig
from ..data import Dataset, InputPipelines
from ..events import FINISHED, STOPPED, USER_CANCELLED, Event, TunerFinished
from ..resume import TunerResume

logger = logging.getLogger(__name__)

FAILED_TUNER = "failed"

_CONSECUTIVE_FAILURES = "Number of consecutive failures exceeded"


def run_tuner(
    tuner: TunerConfig,
    experiment: Experiment,
    dataset: Dataset,
    project_dir: Path,
    best_model_path: Path,
    emit: Callable[[Event], None],
    cancel_requested: Callable[[], bool],
    resume: TunerResume | None = None,
    stop_reason: Callable[[], str] = lambda: USER_CANCELLED,
) -> TunerFinished:
    """Search with `tuner` and return its `TunerFinished` record (not emitted).

    Search time runs from the tuner's start until its best hyperparameters
    are known, trials and tuner overhead included. The test evaluation of
    the best model afterwards is not part of it. With `resume`, the tuner
    continues the Keras Tuner project in `project_dir`, and its search time
    adds this process's to the time earlier processes spent. `stop_reason`
    gives the reason recorded when `cancel_requested` stops the search, such
    as a closed terminal.
    """
    import keras

    # Every tuner starts from the same random state, so weight initialisation
    # and shuffling do not favour the tuner that happens to run first.
    keras.utils.set_random_seed(experiment.seed)
    started = time.perf_counter()
    if resume is not None:
        started -= resume.previous_search_seconds

    if tuner.type == "aisara-cloud":
        return _run_cloud(tuner, experiment, dataset, best_model_path, emit, cancel_requested, started, stop_reason)

    from .oracles import create_oracle
    from .tuner import FamilyHyperModel, StudyCancelled, StudyTuner, describe_exception, short_reason

    oracle = create_oracle(
        tuner,
        experiment.space,
        experiment.objective,
        seed=experiment.seed,
        max_consecutive_failures=experiment.max_consecutive_failures,
        on_round=emit,
    )
    hypermodel = FamilyHyperModel(
        experiment.model,
        dataset.input_shape,
        dataset.num_classes,
        tuner.batch_size,
        experiment.search_paths(),
        experiment.training,
        InputPipelines(dataset),
    )
    try:
        with _keras_tuner_output_logged(tuner.name):
            # Keras Tuner reloads the project when project_dir/<name> contains one.
            search = StudyTuner(
                oracle,
                hypermodel,
                name=tuner.name,
                epochs=tuner.epochs,
                emit=emit,
                cancel_requested=cancel_requested,
                numbers=resume.numbers if resume is not None else None,
                directory=str(project_dir),
                project_name=tuner.name,
                executions_per_trial=tuner.executions_per_trial,
            )
    except Exception as error:
        # NOTE: Keras Tuner 1.4.8 rewrites oracle.json and trial.json in
        # place, so a process killed during that write leaves a file that
        # does not parse. The window is short, but then only this tuner fails.
        logger.exception("tuner %s: its saved state in %s cannot be reloaded", tuner.name, project_dir / tuner.name)
        return TunerFinished(
            tuner=tuner.name,
            status=FAILED_TUNER,
            search_seconds=round(time.perf_counter() - started, 3),
            reason=(
                f"its saved state in {project_dir / tuner.name} cannot be reloaded ({describe_exception(error)}); "
                "move that folder away to restart this tuner from its first trial"
            ),
        )

    status, reason = FINISHED, ""
    try:
        with _keras_tuner_output_logged(tuner.name):
            if resume is not None:
                resume.restore(search)
            # Saved before the first trial too, so that a process killed
            # during it leaves a project that the next process reloads.
            search.save()
        search.search(
            dataset.x_train,
            dataset.y_train,
            validation_data=(dataset.x_val, dataset.y_val),
            epochs=tuner.epochs,
            batch_size=tuner.batch_size,
            verbose=0,
        )
    except StudyCancelled:
        status, reason = STOPPED, stop_reason()
        for trial_id in search.running_trial_ids():
            search.record_cancelled_trial(trial_id, reason)
    except RuntimeError as error:
        if not str(error).startswith(_CONSECUTIVE_FAILURES):
            raise
        last = str(error).split("\n", 1)[-1]
        status = STOPPED
        reason = (
            f"stopped after {experiment.max_consecutive_failures} failed trials in a row "
            f"(last: {short_reason(last)}); raise experiment.max_consecutive_failures or fix the cause"
        )
    except Exception as error:
        logger.exception("tuner %s failed", tuner.name)
        status, reason = FAILED_TUNER, describe_exception(error)

    # Keras Tuner ranks failed trials last but still returns them.
    best_trials = [t for t in oracle.get_best_trials(1) if t.status == "COMPLETED" and t.score is not None]
    search_seconds = time.perf_counter() - started
    completed = sum(1 for t in oracle.trials.values() if t.status == "COMPLETED")
    failed = sum(1 for t in oracle.trials.values() if t.status in ("FAILED", "INVALID"))

    result = TunerFinished(
        tuner=tuner.name,
        status=status,
        search_seconds=round(search_seconds, 3),
        trials_completed=completed,
        trials_failed=failed,
        reason=reason,
    )
    if best_trials:
        best = best_trials[0]
        result.best_trial_id = best.trial_id
        result.best_hyperparameters = search.model_values(best.hyperparameters.values)
        result.best_objective = float(best.score)
        result.best_metrics = {name: float(best.metrics.get_last_value(name)) for name in best.metrics.metrics}
        _evaluate_best(result, search.load_model(best), dataset, best_model_path)
    elif status == FINISHED:
        result.status = FAILED_TUNER
        result.reason = "no trial completed; see the failed trials' reasons in trials.csv"
    return result


@contextlib.contextmanager
def _keras_tuner_output_logged(tuner: str) -> Iterator[None]:
    """Send what Keras Tuner prints (such as "Reloading Tuner from ...") to the debug log.

    Keras Tuner 1.4.8 prints with `print`, which would land on the user's
    terminal over the live view. The redirect swaps `sys.stdout` for the
    whole process while it lasts, so it wraps only the short calls that print.
    """
    captured = io.StringIO()
    try:
        with contextlib.redirect_stdout(captured):
            yield
    finally:
        for line in captured.getvalue().splitlines():
            if line.strip():
                logger.debug("tuner %s: keras_tuner: %s", tuner, line.strip())


def _evaluate_best(result: TunerFinished, model: Any, dataset: Dataset, path: Path) -> None:
    """Fill in the test accuracy and size of the best model and save it."""
    from ..models import count_trainable_params

    result.trainable_params = count_trainable_params(model)
    scores = model.evaluate(dataset.x_test, dataset.y_test, verbose=0, return_dict=True)
    result.test_loss = _as_float(scores.get("loss"))
    result.test_accuracy = _as_float(scores.get("accuracy", scores.get("compile_metrics")))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        model.save(path)
    except (OSError, ValueError) as error:
        logger.warning("could not save the best model of %s to %s: %s", result.tuner, path, error)


def _run_cloud(
    tuner: TunerConfig,
    experiment: Experiment,
    dataset: Dataset,
    best_model_path: Path,
    emit: Callable[[Event], None],
    cancel_requested: Callable[[], bool],
    started: float,
    stop_reason: Callable[[], str],
) -> TunerFinished:
    from .aisara_cloud import run_cloud_search

    outcome = run_cloud_search(tuner, experiment, dataset, emit=emit, should_stop=cancel_requested)
    result = TunerFinished(
        tuner=tuner.name,
        status=STOPPED if cancel_requested() else FINISHED,
        search_seconds=round(time.perf_counter() - started, 3),
        trials_completed=outcome.trials_completed,
        trials_failed=outcome.trials_failed,
        best_trial_id=outcome.best_trial_id,
        best_hyperparameters=dict(outcome.best_hyperparameters),
        best_objective=outcome.best_objective,
        best_metrics=dict(outcome.best_metrics),
        reason=stop_reason() if cancel_requested() else "",
    )
    if outcome.best_model is not None:
        _evaluate_best(result, outcome.best_model, dataset, best_model_path)
    return result


def _as_float(value: Any) -> float | None:
    return None if value is None else float(value)
