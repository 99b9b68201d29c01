"""Which trials write a weights checkpoint: the ones that can become the best, and every Hyperband trial."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tunescope.core.config import parse_experiment
from tunescope.core.events import COMPLETED, TrialFinished, TunerFinished
from tunescope.core.store import Journal, create_run_dir, read_journal
from tunescope.core.study import Study

pytestmark = pytest.mark.slow


def run_tuner(tmp_path: Path, tuner: str, trials: int) -> tuple[Path, list[TrialFinished], TunerFinished]:
    text = textwrap.dedent(
        f"""
        [experiment]
        name = "checkpoints"
        seed = 5
        [dataset]
        name = "digits"
        train_size = 150
        test_size = 60
        [model]
        family = "dnn"
        [budget]
        max_trials = {trials}
        epochs = 2
        batch_size = 64
        [[space]]
        name = "nodes_dense"
        type = "int"
        min = 4
        max = 64
        step = 4
        [[space]]
        name = "learning_rate"
        type = "log"
        min = 1e-4
        max = 1e-1
        [[tuners]]
        type = "{tuner}"
        """
    )
    experiment = parse_experiment(text, source="checkpoints.toml", base_dir=tmp_path)
    run_dir = create_run_dir("checkpoints", text, tmp_path / "runs")
    journal = Journal(run_dir.journal)
    Study(experiment, run_dir, sinks=[journal]).run()
    journal.close()
    events = read_journal(run_dir.journal)
    trials = [event for event in events if isinstance(event, TrialFinished)]
    finished = [event for event in events if isinstance(event, TunerFinished)][0]
    return run_dir.keras_tuner / tuner, trials, finished


def checkpoint(project: Path, trial_id: str) -> Path:
    return project / f"trial_{trial_id}" / "checkpoint.weights.h5"


def test_random_search_checkpoints_only_contenders(tmp_path: Path) -> None:
    project, trials, finished = run_tuner(tmp_path, "random", trials=6)

    best_so_far = None
    expected = {}
    for trial in trials:
        assert trial.status == COMPLETED
        expected[trial.trial_id] = best_so_far is None or trial.objective >= best_so_far
        best_so_far = trial.objective if best_so_far is None else max(best_so_far, trial.objective)
    written = {trial.trial_id: checkpoint(project, trial.trial_id).exists() for trial in trials}
    assert not all(expected.values()), "every trial improved on the last; the seed no longer tests a skipped save"
    assert written == expected
    assert written[finished.best_trial_id]
    assert finished.test_accuracy is not None


def test_hyperband_checkpoints_every_trial(tmp_path: Path) -> None:
    project, trials, finished = run_tuner(tmp_path, "hyperband", trials=4)

    completed = [trial for trial in trials if trial.status == COMPLETED]
    assert completed
    assert all(checkpoint(project, trial.trial_id).exists() for trial in completed)
    assert finished.test_accuracy is not None
