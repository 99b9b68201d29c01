"""The study run in a child process: events through the journal, cancels through the pipe, failures named.

The slow tests start the real engine in a child, on the tiny digits
experiment. The fast ones need no TensorFlow: the child fails before it
would import it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fake_engine import run_async, settle
from tiny_experiment import tiny_experiment

from tunescope.core.events import FINISHED, STOPPED, EpochEnded, Event, StudyFinished, StudyStarted, TrialFinished
from tunescope.core.store import RunDir, create_run_dir, read_journal, run_owner
from tunescope.tui.app import TunescopeApp
from tunescope.tui.screens.run import RunScreen
from tunescope.tui.settings import AppSettings
from tunescope.tui.study_handle import HEADLESS_LOG_NAME, TERMINAL_CLOSED
from tunescope.tui.study_process import EXIT_FAILED, StudyProcess, remove_unstarted_run
from tunescope.tui.widgets.log_pane import LogPane
from tunescope.tui.widgets.trial_table import TrialTable

BROKEN_CONFIG = "[experiment]\nname = 'broken'\n[[space]]\nname = 'units'\n"


def new_run(tmp_path: Path, text: str) -> RunDir:
    return create_run_dir("child", text, tmp_path / "runs")


def log_text(run_dir: RunDir) -> str:
    return (run_dir.path / HEADLESS_LOG_NAME).read_text(encoding="utf-8")


@pytest.mark.slow
def test_child_runs_study_and_writes_reports(tmp_path: Path) -> None:
    run_dir = new_run(tmp_path, tiny_experiment(epochs=1, max_trials=2))
    process = StudyProcess(run_dir, tmp_path)

    process.start()
    events = list(process.events(poll_seconds=0.05))
    status = process.wait()

    assert status == 0, log_text(run_dir)[-3000:]
    assert process.pid != os.getpid()
    assert isinstance(events[0], StudyStarted)
    assert isinstance(events[-1], StudyFinished) and events[-1].status == FINISHED
    # The follower yields exactly what the journal holds, in order.
    assert [event.to_dict() for event in events] == [event.to_dict() for event in read_journal(run_dir.journal)]
    assert len([event for event in events if isinstance(event, TrialFinished)]) == 2
    assert (run_dir.path / "summary.md").is_file()
    assert "wrote trials.csv" in log_text(run_dir)
    assert process.failure() == ""
    assert not process.error_path.exists()


@pytest.mark.slow
def test_cancel_reaches_child_with_its_reason(tmp_path: Path) -> None:
    run_dir = new_run(tmp_path, tiny_experiment(epochs=30, max_trials=20))
    process = StudyProcess(run_dir, tmp_path)
    process.start()

    events: list[Event] = []
    for event in process.events(poll_seconds=0.05):
        events.append(event)
        if isinstance(event, EpochEnded):
            process.cancel(TERMINAL_CLOSED)
    status = process.wait()

    assert status == 0, log_text(run_dir)[-3000:]
    finished = events[-1]
    assert isinstance(finished, StudyFinished)
    assert finished.status == STOPPED
    assert finished.reason == TERMINAL_CLOSED
    assert len([event for event in events if isinstance(event, TrialFinished)]) < 20
    # Cancelling a child that has exited is not an error.
    process.cancel()


# Starts the child and exits at once, as an app that is killed would.
PARENT_DIES = """
import os, sys
from pathlib import Path
from tunescope.core.store import RunDir
from tunescope.tui.study_process import StudyProcess
StudyProcess(RunDir(Path(sys.argv[1])), None).start()
os._exit(0)
"""


@pytest.mark.slow
def test_child_outlives_an_app_that_dies(tmp_path: Path) -> None:
    run_dir = new_run(tmp_path, tiny_experiment(epochs=1, max_trials=2))

    subprocess.run([sys.executable, "-c", PARENT_DIES, str(run_dir.path)], check=True, timeout=60)

    deadline = time.monotonic() + 300
    while not (run_dir.path / "summary.md").is_file() or run_owner(run_dir).alive:
        assert time.monotonic() < deadline, log_text(run_dir)[-3000:]
        time.sleep(0.2)
    finished = read_journal(run_dir.journal)[-1]
    assert isinstance(finished, StudyFinished) and finished.status == FINISHED


def test_child_names_a_broken_experiment_and_fails(tmp_path: Path) -> None:
    run_dir = new_run(tmp_path, BROKEN_CONFIG)
    process = StudyProcess(run_dir, tmp_path)

    process.start()
    events = list(process.events(poll_seconds=0.05))
    status = process.wait()

    assert events == []
    assert status == EXIT_FAILED
    reason = process.failure()
    assert "config.toml" in reason
    assert "\n" not in reason
    assert f"the study could not start: {reason}" in log_text(run_dir)
    assert "Traceback" not in log_text(run_dir)
    # The reason is read once and its file removed.
    assert process.failure() == ""
    assert not process.error_path.exists()


def test_child_names_a_config_that_is_not_utf8(tmp_path: Path) -> None:
    run_dir = new_run(tmp_path, BROKEN_CONFIG)
    run_dir.config.write_bytes(b"\xff\xfe\x00junk")
    process = StudyProcess(run_dir, tmp_path)

    process.start()
    status = process.wait()

    assert status == EXIT_FAILED
    reason = process.failure()
    assert "config.toml" in reason
    assert "UTF-8" in reason
    assert "Traceback" not in log_text(run_dir)
    assert remove_unstarted_run(run_dir)


def test_child_that_dies_gives_no_reason(tmp_path: Path) -> None:
    interpreter = tmp_path / "dies.sh"
    interpreter.write_text("#!/bin/sh\nexit 3\n")
    interpreter.chmod(0o755)
    process = StudyProcess(new_run(tmp_path, BROKEN_CONFIG), tmp_path, python=str(interpreter))

    process.start()

    assert list(process.events(poll_seconds=0.05)) == []
    assert process.wait() == 3
    assert process.failure() == ""


def test_child_names_a_missing_run_dir(tmp_path: Path) -> None:
    missing = tmp_path / "missing"

    result = subprocess.run(
        [sys.executable, "-m", "tunescope.tui.study_process", str(missing)],
        capture_output=True, text=True, timeout=60,
    )

    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert str(missing) in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("extra_file", "journal_text", "removed"),
    [(None, "", True), ("notes.txt", "", False), (None, '{"kind": "study_started"}\n', False)],
    ids=["unstarted", "foreign-file", "journaled"],
)
def test_remove_unstarted_run(tmp_path: Path, extra_file: str | None, journal_text: str, removed: bool) -> None:
    run_dir = new_run(tmp_path, BROKEN_CONFIG)
    run_dir.journal.write_text(journal_text, encoding="utf-8")
    (run_dir.path / HEADLESS_LOG_NAME).write_text("ERROR the study could not start\n", encoding="utf-8")
    if extra_file is not None:
        (run_dir.path / extra_file).write_text("mine", encoding="utf-8")

    assert remove_unstarted_run(run_dir) is removed
    assert run_dir.path.exists() is not removed


def test_events_before_start_rejected(tmp_path: Path) -> None:
    process = StudyProcess(new_run(tmp_path, BROKEN_CONFIG), tmp_path)

    with pytest.raises(RuntimeError, match="has not been started"):
        next(process.events())


@run_async
async def test_app_shows_why_child_could_not_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A child that cannot start the study (here: a run's config damaged after the form checked it) gives its reason."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "study.toml").write_text(tiny_experiment(output=tmp_path / "runs"))
    original_start = StudyProcess.start

    def damage_then_start(process: StudyProcess) -> None:
        process.run_dir.config.write_text(BROKEN_CONFIG, encoding="utf-8")
        original_start(process)

    monkeypatch.setattr(StudyProcess, "start", damage_then_start)
    settings = AppSettings()
    app = TunescopeApp(tmp_path / "study.toml", start=True, settings=settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: settings.study is not None and not settings.study.running, timeout=30)
        await pilot.pause(0.3)
        messages = [notification.message for notification in app._notifications]
        assert any("config.toml" in message and "was removed, since the study never started" in message for message in messages), messages
        screen = app.screen
        assert isinstance(screen, RunScreen)
        assert screen.check_action("back", ()) is True
        assert screen.sub_title == "no run directory: the study never started"
        # The log pane follows the child's log file, whose lines it wraps at its width.
        pane = screen.query_one(LogPane)
        await settle(pilot, lambda: "could not start" in "".join(line.text for line in pane.lines), timeout=10)
        # As `--no-tui` writes nothing when its study cannot start.
        assert list((tmp_path / "runs").iterdir()) == []


@pytest.mark.slow
@run_async
async def test_app_shows_study_of_child(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "study.toml").write_text(tiny_experiment(output=tmp_path / "runs", epochs=2, max_trials=3))
    settings = AppSettings()
    app = TunescopeApp(tmp_path / "study.toml", start=True, settings=settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: settings.study is not None and settings.study.finished.is_set(), timeout=300)
        screen = app.screen
        assert isinstance(screen, RunScreen)
        await settle(pilot, lambda: screen.finished is not None, timeout=5)
        assert screen.finished.status == FINISHED
        assert len(screen.query_one(TrialTable).records) == 3
        assert screen.device.startswith("CPU") or screen.device.startswith("GPU")
        # The study ran in another process, which held the run's lock.
        run_dir = settings.study.run_dir
        assert run_dir.lock.read_text().strip() != str(os.getpid())
        assert (run_dir.path / "summary.md").is_file()
