"""Attach mode: the app follows a journal and log file that another thread writes, or shows a finished run."""

from __future__ import annotations

import io
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_engine import SMALL_STUDY, FakeStudy, run_async, scripted_events, settle, small_experiment
from rich.color import Color

from tunescope.core.events import StudyFinished, StudyStarted
from tunescope.core.store import Journal, RunDir, RunLock, run_owner
from tunescope.tui.app import TunescopeApp
from tunescope.tui.headless import HeadlessView
from tunescope.tui.screens.results import ResultsScreen
from tunescope.tui.screens import run as run_screen
from tunescope.tui.screens.run import RunScreen
from tunescope.tui.settings import AppSettings
from tunescope.tui.study_handle import HEADLESS_LOG_NAME
from tunescope.tui.widgets.log_pane import LogPane
from tunescope.tui.widgets.trial_table import TrialTable
from tunescope.tui.widgets.tuner_progress import TunerProgress


def start_writer(run_dir: RunDir, pause_in_trial: int) -> tuple[FakeStudy, threading.Thread, Journal]:
    """Run a fake study on a thread that writes its events to the run's journal, holding the run's lock as a real run does."""
    lock = RunLock(run_dir)
    lock.acquire()
    journal = Journal(run_dir.journal)
    study = FakeStudy(small_experiment(), run_dir, [journal], pause_in_trial=pause_in_trial)

    def run() -> None:
        try:
            study.run()
        finally:
            lock.release()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert study.paused.wait(timeout=10)
    return study, thread, journal


@pytest.fixture()
def quick_owner_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_screen, "OWNER_CHECK_SECONDS", 0.1)


@run_async
async def test_attach_follows_growing_journal(tmp_path: Path, quick_owner_checks: None) -> None:
    run_dir = RunDir(tmp_path)
    study, thread, journal = start_writer(run_dir, pause_in_trial=3)
    app = TunescopeApp(run_dir=tmp_path, settings=AppSettings())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, RunScreen))
        screen = app.screen
        table = screen.query_one(TrialTable)
        await settle(pilot, lambda: "random/03" in table.records and table.records["random/03"].epoch == 1)
        # Several owner checks pass while the writer holds the lock.
        await pilot.pause(0.3)
        assert not screen.query_one("#run-state").display
        assert table.records["random/01"].status == "completed"
        assert table.records["random/03"].status == "running"
        assert screen.finished is None
        assert screen.check_action("cancel_study", ()) is False

        study.resume.set()
        thread.join(timeout=10)
        journal.close()
        await settle(pilot, lambda: screen.finished is not None)
        assert table.row_count == 8
        assert screen.check_action("results", ()) is True
        assert screen.check_action("back", ()) is False


@run_async
async def test_attach_to_finished_run_shows_results(tmp_path: Path) -> None:
    run_dir = RunDir(tmp_path)
    journal = Journal(run_dir.journal)
    for event in scripted_events(small_experiment(), run_dir):
        journal(event)
    journal.close()
    app = TunescopeApp(run_dir=tmp_path, settings=AppSettings())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, ResultsScreen))
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert screen.tuner_names == ["random", "aisara"]
        assert screen.check_action("back", ()) is False
        assert str(screen.query_one("#importance-0").render()).startswith("importance: ")
        assert "bounds searched per round by aisara" in str(screen.query_one("#bounds-1").render())


@pytest.fixture()
def writer_logger() -> Iterator[logging.Logger]:
    """A logger of the writing side whose records reach the app only through the run's log file.

    The app's log pane listens on the root logger of this same process, so
    the logger must not propagate there.
    """
    logger = logging.getLogger("tunescope.test_writer")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    yield logger
    logger.handlers.clear()
    logger.propagate = True
    logger.setLevel(logging.NOTSET)


def pane_text(screen: RunScreen) -> str:
    return "\n".join(line.text for line in screen.query_one(LogPane).lines)


@run_async
async def test_attach_shows_log_file(tmp_path: Path, writer_logger: logging.Logger) -> None:
    run_dir = RunDir(tmp_path)
    journal = Journal(run_dir.journal)
    app = TunescopeApp(run_dir=tmp_path, settings=AppSettings())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, RunScreen))
        screen = app.screen
        assert not (tmp_path / HEADLESS_LOG_NAME).exists()

        # The writer runs the study as `tunescope run --no-tui` does: the
        # journal and the headless view as sinks, the view's log handler on
        # the package logger, so the log file appears only now.
        view = HeadlessView(stream=io.StringIO(), live=False)
        writer_logger.addHandler(view.logging_handler())
        writer_logger.info("loading data set digits")
        study = FakeStudy(small_experiment(), run_dir, [journal, view], pause_in_trial=3)
        thread = threading.Thread(target=study.run, daemon=True)
        thread.start()
        await settle(pilot, study.paused.is_set)
        writer_logger.warning("trial 3 is slow")

        await settle(pilot, lambda: "trial 3 is slow" in pane_text(screen))
        text = pane_text(screen)
        assert "INFO tunescope.test_writer: loading data set digits" in text
        assert "WARNING tunescope.test_writer: trial 3 is slow" in text
        assert text.index("loading data set") < text.index("trial 3 is slow")
        slow_line = next(line for line in screen.query_one(LogPane).lines if "trial 3 is slow" in line.text)
        assert any(segment.style is not None and segment.style.color == Color.parse("yellow") for segment in slow_line)

        study.resume.set()
        thread.join(timeout=10)
        writer_logger.info("reports written")
        await settle(pilot, lambda: "reports written" in pane_text(screen))
        view.stop()
        journal.close()


def test_headless_view_writes_log_file(tmp_path: Path, writer_logger: logging.Logger) -> None:
    view = HeadlessView(stream=io.StringIO(), live=False)
    writer_logger.addHandler(view.logging_handler())
    writer_logger.info("before the study")
    view(StudyStarted(study="small", run_dir=str(tmp_path), tuners=["random"], objective="val_accuracy", direction="max", space=[], seed=1))
    writer_logger.warning("during the study")
    view.stop()
    writer_logger.info("after the view stopped")

    lines = (tmp_path / HEADLESS_LOG_NAME).read_text(encoding="utf-8").splitlines()
    assert [line.split(" ", 2)[2] for line in lines] == [
        "INFO tunescope.test_writer: before the study",
        "WARNING tunescope.test_writer: during the study",
    ]


def test_headless_view_skips_missing_run_dir(tmp_path: Path, writer_logger: logging.Logger) -> None:
    view = HeadlessView(stream=io.StringIO(), live=False)
    writer_logger.addHandler(view.logging_handler())
    missing = tmp_path / "missing"
    view(StudyStarted(study="small", run_dir=str(missing), tuners=["random"], objective="val_accuracy", direction="max", space=[], seed=1))
    writer_logger.warning("shown, not written")
    view.stop()
    assert not missing.exists()


# -- a study whose process has ended ------------------------------------------------------

# Holds the run's lock as `tunescope run` does, then sleeps until it is killed.
LOCK_HOLDER = """
import sys, time
from pathlib import Path
from tunescope.core.store import RunDir, RunLock
lock = RunLock(RunDir(Path(sys.argv[1])))
lock.acquire()
print("locked", flush=True)
time.sleep(120)
"""


def unfinished_journal(run_dir: RunDir) -> None:
    """Write the journal of a study stopped in the middle of its first tuner, with no study_finished event."""
    events = scripted_events(small_experiment(), run_dir)
    journal = Journal(run_dir.journal)
    for event in events[:12]:
        journal(event)
    journal.close()
    assert not any(isinstance(event, StudyFinished) for event in events[:12])


def run_state_text(screen: RunScreen) -> str:
    return str(screen.query_one("#run-state").render())


def progress_rows(screen: RunScreen) -> str:
    progress = screen.query_one(TunerProgress)
    return "\n".join(f"{progress._count(state).plain} {progress._time(state).plain}" for state in progress.tuners.values())


@run_async
async def test_attach_notices_killed_owner(tmp_path: Path, quick_owner_checks: None) -> None:
    run_dir = RunDir(tmp_path)
    unfinished_journal(run_dir)
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        app = TunescopeApp(run_dir=tmp_path, settings=AppSettings())
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot, lambda: isinstance(app.screen, RunScreen))
            screen = app.screen
            await settle(pilot, lambda: "random/03" in screen.query_one(TrialTable).records)
            await pilot.pause(0.3)
            assert not screen.query_one("#run-state").display
            screen.show_changes()
            assert "left ~" in progress_rows(screen)

            os.kill(holder.pid, signal.SIGKILL)
            holder.wait(timeout=10)
            await settle(pilot, lambda: screen.query_one("#run-state").display)
            text = run_state_text(screen)
            assert f"(pid {holder.pid}) has ended without finishing" in text
            assert f"`tunescope resume {tmp_path}` continues it" in text
            screen.show_changes()
            assert "left ~" not in progress_rows(screen)
            assert "interrupted" in progress_rows(screen)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(timeout=10)


@run_async
async def test_attach_without_lock_says_ended(tmp_path: Path, quick_owner_checks: None) -> None:
    run_dir = RunDir(tmp_path)
    unfinished_journal(run_dir)
    app = TunescopeApp(run_dir=tmp_path, settings=AppSettings())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, RunScreen))
        screen = app.screen
        await settle(pilot, lambda: screen.query_one("#run-state").display)
        assert run_state_text(screen).startswith("the process running this study has ended without finishing;")
        statuses = [record.status for record in screen.query_one(TrialTable).records.values()]
        assert "interrupted" in statuses
        assert "running" not in statuses


@pytest.mark.parametrize("with_log", [True, False], ids=["log-file", "no-log-file"])
@run_async
async def test_attach_unstarted_run_names_log(tmp_path: Path, quick_owner_checks: None, with_log: bool) -> None:
    """A run whose study never started has nothing to resume, so attach points at its log file, if any, instead."""
    run_dir = RunDir(tmp_path)
    run_dir.journal.touch()
    if with_log:
        (tmp_path / HEADLESS_LOG_NAME).write_text("2026-12-05 07:00:00,000 ERROR tunescope: no data\n", encoding="utf-8")
    app = TunescopeApp(run_dir=tmp_path, settings=AppSettings())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, RunScreen))
        screen = app.screen
        await settle(pilot, lambda: screen.query_one("#run-state").display)
        text = run_state_text(screen)
        assert "has ended before the study started" in text
        assert (str(tmp_path / HEADLESS_LOG_NAME) in text) is with_log
        assert ("wrote no log file" in text) is not with_log
        assert "resume" not in text


@run_async
async def test_attach_clears_ended_when_resumed(tmp_path: Path, quick_owner_checks: None) -> None:
    run_dir = RunDir(tmp_path)
    unfinished_journal(run_dir)
    app = TunescopeApp(run_dir=tmp_path, settings=AppSettings())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, RunScreen))
        screen = app.screen
        await settle(pilot, lambda: screen.query_one("#run-state").display)
        # As `tunescope resume` does: it takes the lock and goes on.
        with RunLock(run_dir):
            await settle(pilot, lambda: not screen.query_one("#run-state").display)
            assert run_owner(run_dir).alive is True
            statuses = [record.status for record in screen.query_one(TrialTable).records.values()]
            assert "interrupted" not in statuses


@run_async
async def test_attach_knows_budgets_of_waiting_tuners(tmp_path: Path, quick_owner_checks: None) -> None:
    run_dir = RunDir(tmp_path)
    run_dir.config.write_text(SMALL_STUDY, encoding="utf-8")
    unfinished_journal(run_dir)
    app = TunescopeApp(run_dir=tmp_path, settings=AppSettings())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, RunScreen))
        screen = app.screen
        await settle(pilot, lambda: len(screen.query_one(TunerProgress).tuners) > 1)
        screen.show_changes()

        assert "/?" not in progress_rows(screen)


@run_async
async def test_attach_long_log_shows_latest_lines(tmp_path: Path) -> None:
    run_dir = RunDir(tmp_path)
    unfinished_journal(run_dir)
    lines = "".join(f"2026-12-05 07:00:00,000 INFO tunescope: line {number:05d}\n" for number in range(20_000))
    (tmp_path / HEADLESS_LOG_NAME).write_text(lines, encoding="utf-8")
    app = TunescopeApp(run_dir=tmp_path, settings=AppSettings())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, RunScreen))
        screen = app.screen
        await settle(pilot, lambda: "line 19999" in pane_text(screen), timeout=5)
        text = pane_text(screen)
        assert "line 00000" not in text
        assert f"line {20_000 - run_screen.LOG_BACKLOG_LINES:05d}" in text
        assert f"line {20_000 - run_screen.LOG_BACKLOG_LINES - 1:05d}" not in text
