"""The study engine with real Keras training on small slices of digits."""

from __future__ import annotations

import csv
import textwrap
from pathlib import Path

import pytest

from tunescope.core.config import parse_experiment
from tunescope.core.events import EpochEnded, Event, StudyFinished, TrialFinished, TunerFinished
from tunescope.core.report import write_reports
from tunescope.core.store import Journal, create_run_dir, read_journal
from tunescope.core.study import Study

pytestmark = pytest.mark.slow

SPACE = """
[[space]]
name = "num_layers"
type = "int"
min = 1
max = 2
[[space]]
name = "learning_rate"
type = "log"
min = 1e-3
max = 1e-2
step = 10
"""


def experiment_text(tuners: str, model: str = 'family = "dnn"', space: str = SPACE, budget: str = "") -> str:
    return textwrap.dedent(
        f"""
        [experiment]
        name = "test"
        seed = 3
        max_consecutive_failures = 2
        [dataset]
        name = "digits"
        train_size = 200
        test_size = 100
        [model]
        {model}
        [budget]
        max_trials = 2
        epochs = 1
        batch_size = 64
        {budget}
        """
    ) + space + tuners


def run_study(tmp_path: Path, text: str, sinks: list = (), base_dir: Path | None = None) -> tuple[Study, list[Event]]:
    experiment = parse_experiment(text, source="test.toml", base_dir=base_dir or tmp_path)
    run_dir = create_run_dir("test", text, tmp_path / "runs")
    journal = Journal(run_dir.journal)
    study = Study(experiment, run_dir, sinks=[journal, *sinks])
    study.run()
    journal.close()
    return study, read_journal(run_dir.journal)


def by_kind(events: list[Event], kind: type) -> list:
    return [e for e in events if isinstance(e, kind)]


def test_every_keras_tuner_finishes_two_trials(tmp_path: Path) -> None:
    # Hyperband needs a few epochs to form a bracket of more than one trial.
    tuners = "".join(f'[[tuners]]\ntype = "{kind}"\n' for kind in ("random", "bayesian", "grid"))
    tuners += '[[tuners]]\ntype = "hyperband"\nepochs = 3\n'
    study, events = run_study(tmp_path, experiment_text(tuners))

    results = {r.tuner: r for r in by_kind(events, TunerFinished)}
    assert list(results) == ["random", "bayesian", "grid", "hyperband"]
    for name, result in results.items():
        trials = [t for t in by_kind(events, TrialFinished) if t.tuner == name]
        assert len(trials) == 2, name
        assert result.status == "finished", name
        assert result.trials_completed == 2, name
        assert 0.0 <= result.test_accuracy <= 1.0, name
        assert result.trainable_params > 0, name
        assert result.best_objective == max(t.objective for t in trials), name
        assert (study.run_dir.best_models / f"{name}.keras").is_file(), name
        assert (study.run_dir.keras_tuner / name).is_dir(), name
    assert by_kind(events, StudyFinished)[-1].status == "finished"


def test_reports_match_journal(tmp_path: Path) -> None:
    study, events = run_study(tmp_path, experiment_text('[[tuners]]\ntype = "random"\n'))
    write_reports(study.run_dir, events)

    with open(study.run_dir.path / "trials.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    trials = by_kind(events, TrialFinished)
    assert len(rows) == len(trials)
    for row, trial in zip(rows, trials):
        assert float(row["objective"]) == pytest.approx(trial.objective)
        assert int(row["trainable_params"]) == trial.trainable_params

    with open(study.run_dir.path / "summary.csv", newline="") as handle:
        summary = list(csv.DictReader(handle))
    result = by_kind(events, TunerFinished)[0]
    assert float(summary[0]["test_accuracy"]) == pytest.approx(result.test_accuracy)
    assert float(summary[0]["search_seconds"]) == pytest.approx(result.search_seconds)


CUSTOM_MODULE = '''
import keras

def build(values, input_shape, num_classes):
    if values["num_layers"] == 2:
        raise ValueError("two layers are not supported by this test model")
    model = keras.Sequential([keras.Input(input_shape), keras.layers.Flatten(),
                              keras.layers.Dense(num_classes, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(values["learning_rate"]),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
'''


def test_failed_trial_becomes_row_and_search_goes_on(tmp_path: Path) -> None:
    (tmp_path / "raising_models.py").write_text(CUSTOM_MODULE)
    grid = '[[tuners]]\ntype = "grid"\nmax_trials = 4\n'
    text = experiment_text(grid, model='family = "custom"\nfunction = "raising_models:build"')
    _, events = run_study(tmp_path, text)

    trials = by_kind(events, TrialFinished)
    failed = [t for t in trials if t.status == "failed"]
    completed = [t for t in trials if t.status == "completed"]
    assert len(trials) == 4
    assert {t.hyperparameters["num_layers"] for t in failed} == {2}
    assert all("two layers are not supported" in t.reason for t in failed)
    assert {t.hyperparameters["num_layers"] for t in completed} == {1}
    assert by_kind(events, TunerFinished)[0].trials_failed == 2


# The built-in families reject learning rates this large, so a custom model
# takes the value as given.
DIVERGING_MODULE = '''
import keras

def build(values, input_shape, num_classes):
    model = keras.Sequential([keras.Input(input_shape), keras.layers.Flatten(),
                              keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(num_classes, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(values["learning_rate"]),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
'''
DIVERGING_SPACE = '[[space]]\nname = "learning_rate"\ntype = "float"\nmin = 1e12\nmax = 1e13\n'
DIVERGING_MODEL = 'family = "custom"\nfunction = "diverging_models:build"'


def test_nan_loss_fails_the_trial(tmp_path: Path) -> None:
    (tmp_path / "diverging_models.py").write_text(DIVERGING_MODULE)
    text = experiment_text(
        '[[tuners]]\ntype = "random"\nmax_trials = 1\n', model=DIVERGING_MODEL, space=DIVERGING_SPACE, budget="epochs = 2"
    )
    text = text.replace("epochs = 1\n", "")
    _, events = run_study(tmp_path, text)

    trial = by_kind(events, TrialFinished)[0]
    assert trial.status == "failed"
    assert "loss became nan" in trial.reason.lower()
    assert by_kind(events, TunerFinished)[0].reason.startswith("no trial completed")


def test_consecutive_failures_stop_tuner(tmp_path: Path) -> None:
    (tmp_path / "diverging_models.py").write_text(DIVERGING_MODULE)
    tuners = '[[tuners]]\ntype = "random"\nmax_trials = 5\n[[tuners]]\ntype = "bayesian"\nmax_trials = 1\n'
    _, events = run_study(tmp_path, experiment_text(tuners, model=DIVERGING_MODEL, space=DIVERGING_SPACE))

    results = by_kind(events, TunerFinished)
    assert results[0].status == "stopped"
    assert "2 failed trials in a row" in results[0].reason
    assert len([t for t in by_kind(events, TrialFinished) if t.tuner == "random"]) == 2
    assert results[1].tuner == "bayesian"


def run_cancelled_study(tmp_path: Path, tuners: str, epochs: int, cancel_at_epoch: int, reason: str = "") -> list[Event]:
    """Run a study that is cancelled with `reason` when its first epoch numbered `cancel_at_epoch` ends."""
    holder: dict[str, Study] = {}

    def cancel_at(event: Event) -> None:
        if isinstance(event, EpochEnded) and event.epoch == cancel_at_epoch:
            holder["study"].cancel(reason)

    text = experiment_text(tuners, budget=f"epochs = {epochs}")
    text = text.replace("epochs = 1\n", "")
    experiment = parse_experiment(text, source="test.toml", base_dir=tmp_path)
    run_dir = create_run_dir("test", text, tmp_path / "runs")
    journal = Journal(run_dir.journal)
    study = Study(experiment, run_dir, sinks=[journal, cancel_at])
    holder["study"] = study
    study.run()
    journal.close()
    return read_journal(run_dir.journal)


def test_cancel_stops_after_current_epoch(tmp_path: Path) -> None:
    tuners = '[[tuners]]\ntype = "random"\n[[tuners]]\ntype = "bayesian"\n'
    events = run_cancelled_study(tmp_path, tuners, epochs=3, cancel_at_epoch=1, reason="stopped: the terminal was closed")

    assert len(by_kind(events, EpochEnded)) == 1
    trials = by_kind(events, TrialFinished)
    assert [t.status for t in trials] == ["cancelled"]
    assert [r.tuner for r in by_kind(events, TunerFinished)] == ["random"]
    assert by_kind(events, TunerFinished)[0].status == "stopped"
    assert by_kind(events, StudyFinished)[0].status == "stopped"
    assert trials[0].reason == "stopped: the terminal was closed"
    assert by_kind(events, TunerFinished)[0].reason == "stopped: the terminal was closed"
    assert by_kind(events, StudyFinished)[0].reason == "stopped: the terminal was closed"


def test_cancel_in_last_epoch_keeps_trial(tmp_path: Path) -> None:
    events = run_cancelled_study(tmp_path, '[[tuners]]\ntype = "random"\n', epochs=2, cancel_at_epoch=2)

    trials = by_kind(events, TrialFinished)
    assert [t.status for t in trials] == ["completed"]
    assert trials[0].objective is not None
    assert trials[0].epochs == 2
    assert by_kind(events, StudyFinished)[0].status == "stopped"
