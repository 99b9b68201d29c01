"""Attach mode: the app follows a journal that another thread writes, or shows a finished run."""

from __future__ import annotations

import threading
from pathlib import Path

from fake_engine import FakeStudy, run_async, scripted_events, settle, small_experiment

from tunescope.core.store import Journal, RunDir
from tunescope.tui.app import TunescopeApp
from tunescope.tui.screens.results import ResultsScreen
from tunescope.tui.screens.run import RunScreen
from tunescope.tui.settings import AppSettings
from tunescope.tui.widgets.trial_table import TrialTable


def start_writer(run_dir: RunDir, pause_in_trial: int) -> tuple[FakeStudy, threading.Thread, Journal]:
    """Run a fake study on a thread that writes its events to the run's journal."""
    journal = Journal(run_dir.journal)
    study = FakeStudy(small_experiment(), run_dir, [journal], pause_in_trial=pause_in_trial)
    thread = threading.Thread(target=study.run, daemon=True)
    thread.start()
    assert study.paused.wait(timeout=10)
    return study, thread, journal


@run_async
async def test_attach_follows_growing_journal(tmp_path: Path) -> None:
    run_dir = RunDir(tmp_path)
    study, thread, journal = start_writer(run_dir, pause_in_trial=3)
    app = TunescopeApp(run_dir=tmp_path, settings=AppSettings())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, RunScreen))
        screen = app.screen
        table = screen.query_one(TrialTable)
        await settle(pilot, lambda: "random/03" in table.records and table.records["random/03"].epoch == 1)
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
