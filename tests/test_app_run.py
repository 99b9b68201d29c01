"""The run screen with the fake engine: live table, cancel, errors, logs, quitting."""

from __future__ import annotations

import io
import logging
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_engine import DEVICE, FAILURE_REASON, FakeStudy, Host, fake_factory, paused_study_in_thread, run_async, settle, small_experiment
from rich.console import Console
from textual.app import App

from tunescope.core.errors import DataError
from tunescope.core.events import CANCELLED, FAILED, STOPPED, EpochEnded, EpochStarted, StudyFinished, TrialFinished
from tunescope.core.store import Journal, RunDir, read_journal, run_owner
from tunescope.tui.app import TunescopeApp
from tunescope.tui.messages import EpochBegan, EpochCompleted, TrialLanded
from tunescope.tui.screens.confirm import ConfirmDialog
from tunescope.tui.screens.results import ResultsScreen
from tunescope.tui.screens import run as run_screen
from tunescope.tui.screens.run import RunScreen
from tunescope.tui.settings import AppSettings
from tunescope.tui.study_handle import HEADLESS_LOG_NAME, StudyHandle, finish_after_exit
from tunescope.tui.widgets.bounds_panel import BoundsPanel
from tunescope.tui.widgets.heat_map import HeatMap
from tunescope.tui.widgets.log_pane import LogPane
from tunescope.tui.widgets.trial_detail import TrialDetail
from tunescope.tui.widgets.trial_table import TrialTable
from tunescope.tui.widgets.tuner_progress import TunerProgress

def rich_text(renderable: object) -> str:
    console = Console(width=100, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def live_screen(tmp_path: Path, studies: list[FakeStudy], **fake_options: object) -> RunScreen:
    settings = AppSettings(study_factory=fake_factory(studies, **fake_options), device_probe=lambda: DEVICE)
    run_dir = RunDir(tmp_path / "run")
    run_dir.path.mkdir()
    return RunScreen.live(settings, small_experiment(), run_dir)


@run_async
async def test_live_run_fills_screen(tmp_path: Path) -> None:
    studies: list[FakeStudy] = []
    screen = live_screen(tmp_path, studies)
    async with Host(screen, studies).run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: screen.finished is not None)
        table = screen.query_one(TrialTable)
        assert table.row_count == 8
        failed = [r for r in table.records.values() if r.status == FAILED]
        assert [(r.tuner, r.number) for r in failed] == [("random", 2), ("aisara", 2)]
        assert table.displayed_field("random/02", "status").endswith("FAILED")
        assert DEVICE in screen.sub_title
        assert screen.query_one(HeatMap)._grid is not None
        bounds = screen.query_one(BoundsPanel)
        assert bounds.rounds["aisara"].round == 2
        assert "aisara: round 2 done, next bounds shrinking" in rich_text(bounds._picture())
        progress = screen.query_one(TunerProgress)
        assert [state.status for state in progress.tuners.values()] == ["finished", "finished"]

        await settle(pilot, lambda: screen.handle is not None and not screen.handle.running)
        journal = read_journal(screen.run_dir.journal)
        assert [type(e) for e in journal] == [type(e) for e in studies[0].emitted]
        assert (screen.run_dir.path / "summary.md").is_file()


@run_async
async def test_failed_trial_detail_shows_reason(tmp_path: Path) -> None:
    studies: list[FakeStudy] = []
    screen = live_screen(tmp_path, studies)
    async with Host(screen, studies).run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: screen.finished is not None)
        table = screen.query_one(TrialTable)
        assert table.highlighted_record is not None
        assert table.highlighted_record.key == "aisara/04"
        table.focus()
        table.move_cursor(row=0)
        await pilot.press("down")
        await pilot.pause()
        assert table.highlighted_record is not None
        assert table.highlighted_record.status == FAILED
        detail = str(screen.query_one(TrialDetail).render())
        assert detail.startswith("random trial 2: failed")
        assert f"reason: {FAILURE_REASON}" in detail


@run_async
async def test_running_trial_updates_per_epoch(tmp_path: Path) -> None:
    studies: list[FakeStudy] = []
    screen = live_screen(tmp_path, studies, pause_in_trial=3)
    async with Host(screen, studies).run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: bool(studies) and studies[0].paused.is_set())
        table = screen.query_one(TrialTable)
        await settle(pilot, lambda: "random/03" in table.records and table.records["random/03"].epoch == 1)
        record = table.records["random/03"]
        assert record.status == "running"
        assert record.objective == record.metrics["val_accuracy"]
        screen.show_changes()
        await pilot.pause()
        assert table.displayed_field("random/03", "epochs") == "1/2"
        detail = str(screen.query_one(TrialDetail).render())
        assert detail.startswith("random trial 3: running: epoch 1 of 2, val_accuracy ")
        assert f"val_accuracy {record.metrics['val_accuracy']:.4f} so far" in detail
        studies[0].resume.set()
        await settle(pilot, lambda: screen.finished is not None)


@run_async
async def test_sort_orders_by_objective(tmp_path: Path) -> None:
    studies: list[FakeStudy] = []
    screen = live_screen(tmp_path, studies)
    async with Host(screen, studies).run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: screen.finished is not None)
        table = screen.query_one(TrialTable)
        await pilot.press("s")
        await pilot.pause()
        assert table.sort_order == "objective"
        objectives = [table.records[key].objective for key in table.ordered_keys]
        completed = [value for value in objectives if value is not None]
        assert completed == sorted(completed, reverse=True)
        assert objectives[-1] is None


async def open_cancel_dialog(pilot, studies: list[FakeStudy]) -> None:  # type: ignore[no-untyped-def]
    """Wait until the study pauses in its trial, then press c and wait for the dialog."""
    await settle(pilot, lambda: bool(studies) and studies[0].paused.is_set())
    await pilot.press("c")
    await settle(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog))


@run_async
async def test_cancel_asks_then_stops(tmp_path: Path) -> None:
    studies: list[FakeStudy] = []
    screen = live_screen(tmp_path, studies, pause_in_trial=3)
    async with Host(screen, studies).run_test(size=(120, 40)) as pilot:
        await open_cancel_dialog(pilot, studies)
        assert not studies[0].cancelled

        await pilot.press("enter")
        await settle(pilot, lambda: screen.finished is not None)
        assert studies[0].cancelled
        assert screen.finished.status == STOPPED
        table = screen.query_one(TrialTable)
        assert table.records["random/03"].status == CANCELLED
        assert "aisara/01" not in table.records
        assert screen.check_action("cancel_study", ()) is False

        # The cancelled trial is not counted, and aisara never started.
        progress = screen.query_one(TunerProgress)
        assert progress.tuners["random"].landed == 2
        assert progress.tuners["aisara"].status == "not started"
        screen.show_changes()
        await pilot.pause()
        progress_text = rich_text(progress.render())
        assert "2/4 (1 failed)" in progress_text
        assert "not started" in progress_text
        assert "waiting" not in progress_text


@pytest.mark.parametrize("keys", [("escape",), ("right", "enter")], ids=["escape", "arrow"])
@run_async
async def test_cancel_dialog_keeps_running(tmp_path: Path, keys: tuple[str, ...]) -> None:
    studies: list[FakeStudy] = []
    screen = live_screen(tmp_path, studies, pause_in_trial=1)
    async with Host(screen, studies).run_test(size=(120, 40)) as pilot:
        await open_cancel_dialog(pilot, studies)
        await pilot.press(*keys)
        await settle(pilot, lambda: pilot.app.screen is screen)
        assert not studies[0].cancelled
        studies[0].resume.set()
        await settle(pilot, lambda: screen.finished is not None)
        assert screen.finished.status == "finished"


@run_async
async def test_dialog_arrows_stop_at_ends() -> None:
    app = App[None]()
    async with app.run_test(size=(80, 24)) as pilot:
        dialog = ConfirmDialog("Quit?", "", [("Stop", "stop"), ("Keep", "keep"), ("Back", "back")])
        app.push_screen(dialog)
        await pilot.pause()
        focused = []
        for key in ("right", "right", "right", "left", "left", "left"):
            await pilot.press(key)
            focused.append(dialog.focused.id if dialog.focused is not None else None)
        assert focused == ["answer-keep", "answer-back", "answer-back", "answer-keep", "answer-stop", "answer-stop"]


@run_async
async def test_study_error_is_shown(tmp_path: Path) -> None:
    error = DataError("dataset.name: mnist is not in the Keras cache; run once with network access")
    studies: list[FakeStudy] = []
    screen = live_screen(tmp_path, studies, error=error)
    async with Host(screen, studies).run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: screen.handle is not None and not screen.handle.running)
        await pilot.pause()
        messages = [n.message for n in pilot.app._notifications]
        assert str(error) in messages
        assert screen.check_action("back", ()) is True


@run_async
async def test_results_key_opens_results(tmp_path: Path) -> None:
    studies: list[FakeStudy] = []
    screen = live_screen(tmp_path, studies)
    async with Host(screen, studies).run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: screen.finished is not None)
        await pilot.press("r")
        await settle(pilot, lambda: isinstance(pilot.app.screen, ResultsScreen))
        results = pilot.app.screen
        assert results.tuner_names == ["random", "aisara"]
        await pilot.press("e")
        await pilot.pause()
        assert (screen.run_dir.path / "trials.csv").is_file()
        exported = str(results.query_one("#exported").render())
        assert str(screen.run_dir.path) in exported
        assert "summary.md" in exported


@run_async
async def test_log_pane_shows_thread_logs(tmp_path: Path) -> None:
    studies: list[FakeStudy] = []
    screen = live_screen(tmp_path, studies, pause_in_trial=1)
    async with Host(screen, studies).run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: bool(studies) and studies[0].paused.is_set())
        engine_logger = logging.getLogger("tunescope.core.study")
        thread = threading.Thread(target=engine_logger.warning, args=("trial %s of %s diverged", "02", "random"))
        thread.start()
        thread.join()
        pane = screen.query_one(LogPane)
        await settle(pilot, lambda: any("diverged" in line.text for line in pane.lines))
        assert any(line.text == "WARNING tunescope.core.study: trial 02 of random diverged" for line in pane.lines)
        studies[0].resume.set()
        await settle(pilot, lambda: screen.finished is not None)
    assert pane.handler not in logging.getLogger().handlers


@pytest.fixture()
def info_logging() -> Iterator[None]:
    """Let the package's INFO records through, as the command line does."""
    package = logging.getLogger("tunescope")
    level = package.level
    package.setLevel(logging.INFO)
    yield
    package.setLevel(level)


@run_async
async def test_live_run_writes_log_file(tmp_path: Path, info_logging: None) -> None:
    studies: list[FakeStudy] = []
    screen = live_screen(tmp_path, studies, pause_in_trial=3)
    async with Host(screen, studies).run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: bool(studies) and studies[0].paused.is_set())
        logging.getLogger("tunescope.core.study").warning("trial 3 is slow")
        assert run_owner(screen.run_dir).alive is True
        studies[0].resume.set()
        await settle(pilot, lambda: screen.handle is not None and not screen.handle.running)

    log_lines = (screen.run_dir.path / HEADLESS_LOG_NAME).read_text(encoding="utf-8").splitlines()
    assert any(line.endswith(" WARNING tunescope.core.study: trial 3 is slow") for line in log_lines)
    assert "INFO tunescope.core.report: wrote trials.csv" in log_lines[-1]
    assert run_owner(screen.run_dir).alive is False


@run_async
async def test_epoch_flood_collapses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    studies: list[FakeStudy] = []
    screen = live_screen(tmp_path, studies, pause_in_trial=1)
    async with Host(screen, studies).run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: bool(studies) and studies[0].paused.is_set())
        await settle(pilot, lambda: "random/01" in screen.query_one(TrialTable).records)
        calls: list[int] = []
        table = screen.query_one(TrialTable)
        original = table.epoch_progressed
        monkeypatch.setattr(table, "epoch_progressed", lambda event: calls.append(event.epoch) or original(event))

        # Queued before the screen gets a turn, as when the engine outruns the UI.
        for epoch in range(1, 501):
            screen.post_message(EpochCompleted(EpochEnded("random", "01", epoch, 500, {"val_accuracy": epoch / 1000})))
        await pilot.pause()
        assert calls == [500]
        assert table.records["random/01"].epoch == 500
        studies[0].resume.set()
        await settle(pilot, lambda: screen.finished is not None)


@run_async
async def test_table_draws_on_refresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Only the test's own calls redraw.
    monkeypatch.setattr(run_screen, "REFRESH_SECONDS", 3600.0)
    studies: list[FakeStudy] = []
    screen = live_screen(tmp_path, studies, pause_in_trial=1)
    async with Host(screen, studies).run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: bool(studies) and studies[0].paused.is_set())
        table = screen.query_one(TrialTable)

        def first_epoch_taken() -> bool:
            # With the timer stopped, the queued engine events wait for this call.
            screen._take_events()
            return "random/01" in table.records and table.records["random/01"].epoch == 1

        await settle(pilot, first_epoch_taken)
        screen.show_changes()
        updates: list[str] = []
        original = table._redraw_row
        monkeypatch.setattr(table, "_redraw_row", lambda key: updates.append(key) or original(key))

        screen.post_message(EpochCompleted(EpochEnded("random", "01", 2, 2, {"val_accuracy": 0.5})))
        await pilot.pause()
        assert table.records["random/01"].epoch == 2
        assert updates == []
        assert table.displayed_field("random/01", "epochs") == "1/2"

        screen.show_changes()
        assert updates == ["random/01"]
        assert table.displayed_field("random/01", "epochs") == "2/2"
        studies[0].resume.set()
        await settle(pilot, lambda: screen.finished is not None)


@run_async
async def test_failed_trial_logged_by_number(tmp_path: Path) -> None:
    studies: list[FakeStudy] = []
    screen = live_screen(tmp_path, studies)
    async with Host(screen, studies).run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: screen.finished is not None)
        pane = screen.query_one(LogPane)
        await settle(pilot, lambda: any("aisara trial 2 failed" in line.text for line in pane.lines))
        # The pane wraps long records, keeping the space at the end of each piece.
        text = "".join(line.text for line in pane.lines)
        assert f"WARNING tunescope.tui.screens.run: random trial 2 failed: {FAILURE_REASON}" in text


def test_engine_events_wake_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The study's thread queues its events for the redraw timer and posts no message."""
    screen = live_screen(tmp_path, [])
    posted: list[object] = []
    monkeypatch.setattr(screen, "post_message", posted.append)
    events = [EpochStarted("random", "01", 1, 3), EpochEnded("random", "01", 1, 3, {}), StudyFinished(status="finished", seconds=1.0)]
    for event in events:
        screen._post_event(event)
    assert posted == []
    assert list(screen._inbox) == events
    assert screen.handle is not None
    assert screen.handle.ended.is_set()


def test_epoch_messages_replace_same_trial() -> None:
    first = EpochCompleted(EpochEnded("random", "01", 0, 5, {}))
    assert first.can_replace(EpochCompleted(EpochEnded("random", "01", 1, 5, {})))
    assert not first.can_replace(EpochCompleted(EpochEnded("random", "02", 1, 5, {})))
    assert not first.can_replace(EpochBegan(EpochStarted("random", "01", 1, 5)))
    assert EpochBegan(EpochStarted("random", "01", 1, 5)).can_replace(first)
    landed = TrialLanded(TrialFinished("random", "01", 1, "completed", {}))
    assert not landed.can_replace(TrialLanded(TrialFinished("random", "02", 2, "completed", {})))


def app_with_pausing_study() -> tuple[TunescopeApp, AppSettings, list[FakeStudy]]:
    """Return an app whose studies pause after the first epoch of their first trial, its settings, and the studies' list."""
    studies: list[FakeStudy] = []
    settings = AppSettings(study_factory=fake_factory(studies, pause_in_trial=1), device_probe=lambda: DEVICE)
    return TunescopeApp(settings=settings), settings, studies


async def quit_during_first_trial(pilot: Any, studies: list[FakeStudy]) -> None:
    """Start the study from the setup screen, wait until it pauses in its first trial, then press ctrl+q and wait for the dialog."""
    await pilot.pause()
    await pilot.press("ctrl+r")
    await settle(pilot, lambda: bool(studies) and studies[0].paused.is_set())
    await pilot.press("ctrl+q")
    await settle(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog))


@run_async
async def test_quit_asks_while_running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app, settings, studies = app_with_pausing_study()
    async with app.run_test(size=(100, 30)) as pilot:
        await quit_during_first_trial(pilot, studies)
        # Stopping comes first while the on-quit setting is stop.
        assert app.screen.query_one("#answer-stop").has_focus
        app.screen.query_one("#answer-keep").press()
        await pilot.pause()
    assert settings.keep_running_on_quit is True
    assert settings.study is not None
    assert settings.study.running
    studies[0].resume.set()
    assert settings.study.finished.wait(timeout=10)


@run_async
async def test_quit_after_end_does_not_ask(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Between the journaled end and the written reports, quitting closes the app and leaves the reports to finish."""
    monkeypatch.chdir(tmp_path)
    reports_may_finish = threading.Event()
    original = run_screen.write_reports_logged

    def slow_reports(run_dir: RunDir) -> None:
        reports_may_finish.wait(timeout=10)
        original(run_dir)

    monkeypatch.setattr(run_screen, "write_reports_logged", slow_reports)
    studies: list[FakeStudy] = []
    settings = AppSettings(study_factory=fake_factory(studies), device_probe=lambda: DEVICE)
    app = TunescopeApp(settings=settings)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+r")
        await settle(pilot, lambda: settings.study is not None and settings.study.ended.is_set())
        assert settings.study is not None
        assert settings.study.running
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmDialog)
    assert app.return_code == 0

    handle = settings.study
    threading.Timer(0.2, reports_may_finish.set).start()
    stream = io.StringIO()
    finish_after_exit(handle, keep_running=False, terminal_lost=False, stream=stream)
    assert not handle.running
    assert not studies[0].cancelled
    assert stream.getvalue() == ""
    assert (handle.run_dir.path / "summary.md").is_file()


@run_async
async def test_quit_dialog_closes_at_study_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A quit dialog about a running study goes away once the study ends, since its question no longer applies."""
    monkeypatch.chdir(tmp_path)
    app, settings, studies = app_with_pausing_study()
    async with app.run_test(size=(100, 30)) as pilot:
        await quit_during_first_trial(pilot, studies)
        studies[0].resume.set()
        await settle(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.finished is not None)
        assert app.is_running
        assert not studies[0].cancelled


def test_finish_after_exit_keeps_running(tmp_path: Path) -> None:
    handle, study = paused_study_in_thread(tmp_path, pause_in_trial=3)
    stream = io.StringIO()
    threading.Timer(0.2, study.resume.set).start()
    finish_after_exit(handle, keep_running=True, terminal_lost=False, stream=stream)
    assert not handle.running
    assert not study.cancelled
    assert not handle.interrupted
    assert isinstance(study.emitted[-1], StudyFinished)
    assert study.emitted[-1].status == "finished"
    assert "goes on headless" in stream.getvalue()
    # `tunescope attach` shows the same lines from the log file.
    assert "goes on headless" in (handle.run_dir.path / HEADLESS_LOG_NAME).read_text(encoding="utf-8")


def test_finish_after_exit_marks_ctrl_c_stop(tmp_path: Path) -> None:
    handle, study = paused_study_in_thread(tmp_path, pause_in_trial=3)
    threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()

    finished = finish_after_exit(handle, keep_running=True, terminal_lost=False, stream=io.StringIO())

    assert finished is True
    assert study.cancelled
    assert handle.interrupted


def test_finish_after_exit_stops(tmp_path: Path) -> None:
    handle, study = paused_study_in_thread(tmp_path, pause_in_trial=3)
    finish_after_exit(handle, keep_running=False, terminal_lost=True)
    assert study.cancelled
    assert study.emitted[-1].status == STOPPED
    assert "stopping the study" in (tmp_path / HEADLESS_LOG_NAME).read_text(encoding="utf-8")


class StudyThatOutlivesCancel:
    """A study that takes a cancel but never ends, as a study process in the middle of a long epoch."""

    def run(self) -> None:
        pass

    def cancel(self, reason: str = "") -> None:
        pass


def cancelled_handle(path: Path, separate_process: bool) -> StudyHandle:
    handle = StudyHandle(RunDir(path))
    handle.attach(StudyThatOutlivesCancel())
    handle.cancel()
    handle.separate_process = separate_process
    return handle


def test_finish_after_exit_leaves_study_process(tmp_path: Path) -> None:
    """Ctrl-C after a cancel leaves a study that runs in its own process, which still stops after its epoch."""
    handle = cancelled_handle(tmp_path, separate_process=True)
    stream = io.StringIO()
    # The wait has no end but this Ctrl-C, so the signal always lands inside it.
    threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()

    finished = finish_after_exit(handle, keep_running=True, terminal_lost=False, stream=stream)

    assert finished is False
    assert handle.abandoned.is_set()
    assert "press Ctrl-C to leave at once" in stream.getvalue()
    assert "leaving now" in stream.getvalue()
    assert f"tunescope attach {tmp_path}" in stream.getvalue()


def test_finish_after_exit_cannot_leave_thread(tmp_path: Path) -> None:
    """A study on a thread of this process cannot be left running, so the Ctrl-C propagates."""
    handle = cancelled_handle(tmp_path, separate_process=False)
    threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()

    with pytest.raises(KeyboardInterrupt):
        finish_after_exit(handle, keep_running=True, terminal_lost=False, stream=io.StringIO())

    assert not handle.abandoned.is_set()


def test_finish_after_exit_waits_for_reports_after_end(tmp_path: Path) -> None:
    """A Ctrl-C after the journaled end does not leave: only the reports are left to write."""
    handle = cancelled_handle(tmp_path, separate_process=True)
    journal = Journal(handle.run_dir.journal)
    journal(StudyFinished(status=STOPPED, seconds=1.0, reason="cancelled by the user"))
    journal.close()
    stream = io.StringIO()
    threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
    threading.Timer(0.8, handle.finished.set).start()

    finished = finish_after_exit(handle, keep_running=True, terminal_lost=False, stream=stream)

    assert finished is True
    assert not handle.abandoned.is_set()
    assert "waiting for its reports" in stream.getvalue()


def test_finish_after_exit_waits_for_cancelled(tmp_path: Path) -> None:
    """A study cancelled in the app is only waited for, whatever the on-quit setting, and its end is logged."""
    run_dir = RunDir(tmp_path)
    handle = StudyHandle(run_dir)
    journal = Journal(run_dir.journal)
    study = FakeStudy(small_experiment(), run_dir, [journal], pause_in_trial=3)
    handle.attach(study)
    worker = threading.Thread(target=lambda: (study.run(), journal.close(), handle.finished.set()), daemon=True)
    worker.start()
    assert study.paused.wait(timeout=10)
    handle.cancel()
    stream = io.StringIO()
    threading.Timer(0.2, study.resume.set).start()

    finished = finish_after_exit(handle, keep_running=True, terminal_lost=False, stream=stream)

    output = stream.getvalue()
    assert finished is True
    assert "goes on headless" not in output
    assert "the study stops after the current epoch" in output
    assert f"study stopped (cancelled by the user); reports in {tmp_path}" in output


@run_async
async def test_quit_after_cancel_does_not_ask(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app, settings, studies = app_with_pausing_study()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+r")
        await settle(pilot, lambda: bool(studies) and studies[0].paused.is_set())
        await pilot.press("c")
        await settle(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        app.screen.query_one("#answer-cancel").press()
        await settle(pilot, lambda: settings.study is not None and settings.study.cancel_requested)
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmDialog)
    assert app.return_code == 0
    studies[0].resume.set()
    assert settings.study.finished.wait(timeout=10)


def test_handle_reads_end_from_journal(tmp_path: Path) -> None:
    """The quit check finds a journaled end that the follower has not passed on yet."""
    handle = StudyHandle(RunDir(tmp_path))
    assert handle.check_journal_end() is False

    journal = Journal(handle.run_dir.journal)
    journal(StudyFinished(status="finished", seconds=1.0))
    journal.close()

    assert handle.check_journal_end() is True
    assert handle.ended.is_set()


def test_handle_cancel_before_attach() -> None:
    handle = StudyHandle(RunDir(Path("unused")))
    handle.cancel()
    study = FakeStudy(small_experiment(), RunDir(Path("unused")))
    handle.attach(study)
    assert study.cancelled
