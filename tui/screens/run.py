"""The run screen: a study watched live, either run here or followed through its journal."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static
from textual.worker import Worker, WorkerState

from tunescope.core.config import Experiment, Objective, parse_experiment
from tunescope.core.errors import TunescopeError
from tunescope.core.events import FAILED, FINISHED, Event, StudyFinished
from tunescope.core.space import SearchSpace
from tunescope.core.store import Journal, JournalTail, RunDir, RunLock, RunOwner, run_owner

from ..messages import (
    DeviceFound,
    EngineMessage,
    EpochBegan,
    EpochCompleted,
    RoundClosed,
    StudyAborted,
    StudyBegan,
    StudyEnded,
    TrialBegan,
    TrialLanded,
    TunerBegan,
    TunerEnded,
    message_for,
)
from ..settings import AppSettings
from ..log_file import LogTail, level_of_line
from ..study_handle import HEADLESS_LOG_NAME, RunLogHandler, StudyHandle
from ..study_process import StudyProcess, remove_unstarted_run, write_reports_logged
from ..widgets.bounds_panel import BoundsPanel
from ..widgets.heat_map import HeatMap
from ..widgets.log_pane import LogPane
from ..widgets.trial_detail import TrialDetail
from ..widgets.trial_table import TrialTable
from ..widgets.tuner_progress import TunerProgress
from .confirm import ConfirmDialog

logger = logging.getLogger(__name__)

# Seconds between redraws of the table, progress, heat map and detail panel.
# Each redraw first reads what the study's process appended to the journal
# and the log file, and handles the engine events queued since the last one.
# The study's process shares the machine's cores with the app, so the app
# wakes once per redraw and has no threads that poll the files.
REFRESH_SECONDS = 1.0

# Seconds between checks, in attach mode, that a process still runs the
# followed study. Each check tries the run's lock for an instant.
OWNER_CHECK_SECONDS = 3.0

# The maximum number of log file lines one redraw adds to the log pane, so
# that a burst of lines fills it over a few redraws instead of freezing one.
LOG_LINES_PER_REDRAW = 500

# Lines of an existing log file shown when the screen opens: the latest ones,
# as those of a long log attached to are the ones that matter. They fit in
# one redraw, so the screen's own lines come after all of them.
LOG_BACKLOG_LINES = LOG_LINES_PER_REDRAW


class RunScreen(Screen[None]):
    """Progress per tuner, the trial table, a heat map, AiSara's bounds and the log.

    Built with `live` it starts a study in a child process and follows its
    journal (or, with `settings.study_factory`, runs it on a thread worker);
    built with `attached` it follows the journal of a study that another
    process runs. Every `REFRESH_SECONDS` the screen reads what was appended
    to the journal and to the run's log file, handles the engine events as
    their messages and redraws what they changed. A study on a thread worker
    queues its events for the same redraw, and its log lines reach the pane
    through logging. `clock` (monotonic seconds) advances the time-left
    estimates between events, and tests pass a fixed one.
    """

    CSS_PATH = "run.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS = [
        Binding("c", "cancel_study", "Cancel"),
        Binding("s", "sort", "Sort"),
        Binding("p", "next_pair", "Pair"),
        Binding("t", "next_tuner", "Tuner"),
        Binding("m", "toggle_map", "Map"),
        Binding("r", "results", "Results"),
        Binding("escape", "back", "Setup"),
    ]

    def __init__(
        self,
        settings: AppSettings,
        run_dir: RunDir,
        experiment: Experiment | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.run_dir = run_dir
        self.experiment = experiment
        self.clock = clock
        self.handle = StudyHandle(run_dir) if experiment is not None else None
        self.events: list[Event] = []
        self.finished: StudyFinished | None = None
        self.device = ""
        # Engine events from the study's thread or the journal, handled by
        # the redraw timer. Appending to and popping from a deque are
        # thread-safe.
        self._inbox: deque[Event] = deque()
        # Read by the redraw timer while another process writes the files.
        self._journal_tail: JournalTail | None = None
        self._log_tail: LogTail | None = None
        self._log_level = logging.INFO
        self._owner: RunOwner | None = None
        self._next_owner_check = 0.0
        self._handlers: dict[type[EngineMessage], Callable[[Any], None]] = {
            StudyBegan: self.on_study_began,
            TunerBegan: self.on_tuner_began,
            TrialBegan: self.on_trial_began,
            EpochBegan: self.on_epoch_began,
            EpochCompleted: self.on_epoch_completed,
            TrialLanded: self.on_trial_landed,
            RoundClosed: self.on_round_closed,
            TunerEnded: self.on_tuner_ended,
            StudyEnded: self.on_study_ended,
        }

    @classmethod
    def live(
        cls, settings: AppSettings, experiment: Experiment, run_dir: RunDir, clock: Callable[[], float] = time.monotonic
    ) -> RunScreen:
        """Build a screen that runs `experiment` in `run_dir` as soon as it is shown."""
        return cls(settings, run_dir, experiment, clock)

    @classmethod
    def attached(cls, settings: AppSettings, run_dir: RunDir, clock: Callable[[], float] = time.monotonic) -> RunScreen:
        """Build a screen that follows the journal and log file of a study that another process runs."""
        return cls(settings, run_dir, None, clock)

    # -- layout ----------------------------------------------------------------

    def compose(self) -> ComposeResult:
        ascii_only = self.settings.ascii_only
        yield Header()
        yield TunerProgress(ascii_only, id="progress", clock=self.clock)
        yield Static("", id="run-state", markup=False)
        with Horizontal(id="body"):
            with Vertical(id="trials-panel"):
                yield TrialTable(ascii_only=ascii_only, id="trials")
                yield TrialDetail(id="detail")
            with VerticalScroll(id="map-panel"):
                yield HeatMap(ascii_only, id="heat-map")
                yield BoundsPanel(id="bounds")
        yield LogPane(id="log")
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"tunescope: {self.experiment.name if self.experiment else self.run_dir.path.name}"
        self.sub_title = self.run_dir.path.name
        if self.settings.ascii_only:
            self.add_class("-ascii")
        self.query_one(TrialTable).focus()
        self.set_interval(REFRESH_SECONDS, self.show_changes)
        if self.handle is not None:
            # Drawing the screen the first time takes the app's thread for a
            # tenth of a second, which would slow the first trial down.
            self.call_after_refresh(self._start_study)
        else:
            self._follow_files()
            self.show_changes()

    def show_changes(self) -> None:
        """Read the followed files, handle the engine events and redraw the widgets whose records changed."""
        self._read_files()
        self._take_events()
        table = self.query_one(TrialTable)
        changed = table.show_changes()
        self.query_one(TunerProgress).show_changes()
        self.query_one(HeatMap).show_changes()
        record = table.highlighted_record
        if record is None or record.key in changed:
            self.query_one(TrialDetail).show(record)

    # -- workers ---------------------------------------------------------------

    def _start_study(self) -> None:
        """Start the study's process, or with `settings.study_factory` its thread, and the worker that waits for it."""
        handle = self.handle
        assert handle is not None and self.experiment is not None
        # Quitting waits for the study named here, so it is named only once its worker starts.
        self.settings.study = handle
        if self.settings.study_factory is not None:
            self.run_study(None)
            return
        process = StudyProcess(handle.run_dir, self.experiment.base_dir)
        try:
            process.start()
        except OSError as error:
            handle.finished.set()
            logger.error("the study's process could not start: %s", error)
            self.post_message(StudyAborted(f"the study's process could not start: {error}"))
            return
        handle.separate_process = True
        handle.attach(process)
        # `start` has created the journal and the log file. Opening them now
        # keeps their lines readable after a study that cannot start has its
        # run directory removed, which can happen before the next redraw.
        self._follow_files()
        self._read_files()
        self.run_study(process)

    def _follow_files(self) -> None:
        self._journal_tail = JournalTail(self.run_dir.journal)
        self._log_tail = LogTail(self.run_dir.path / HEADLESS_LOG_NAME, backlog=LOG_BACKLOG_LINES)

    def _read_files(self) -> None:
        """Queue the journal's new events, show the log file's new lines and, in attach mode, check the study's process."""
        self._read_journal()
        if self._log_tail is not None:
            pane = self.query_one(LogPane)
            for line in self._log_tail.read(LOG_LINES_PER_REDRAW):
                self._log_level = level_of_line(line, self._log_level)
                pane.add_line(line, self._log_level)
        if self.handle is None and self._journal_tail is not None and not self._journal_tail.finished:
            now = time.monotonic()
            if now >= self._next_owner_check:
                self._next_owner_check = now + OWNER_CHECK_SECONDS
                self._check_owner()

    def on_unmount(self) -> None:
        for tail in (self._journal_tail, self._log_tail):
            if tail is not None:
                tail.close()

    def _read_journal(self) -> None:
        if self._journal_tail is not None:
            for event in self._journal_tail.read():
                self._post_event(event)

    @work(thread=True, exclusive=True, exit_on_error=False, group="study")
    def run_study(self, process: StudyProcess | None) -> None:
        """Wait for the study's `process`, or without one run the study on this worker thread; only messages leave it."""
        assert self.handle is not None
        try:
            if process is not None:
                self._wait_for_child(self.handle, process)
            else:
                self._run_here(self.handle)
        finally:
            # The quit logic waits on this, so it is set whatever failed above.
            self.handle.finished.set()

    def _wait_for_child(self, handle: StudyHandle, process: StudyProcess) -> None:
        """Wait for the study's process to exit, or for the person to leave, and report a study that did not end."""
        # The redraws read its journal meanwhile.
        status = process.wait(stop=handle.abandoned.is_set)
        if status is None:
            # The person left after the app closed, and the process goes on.
            return
        failure = process.failure()
        if failure:
            if remove_unstarted_run(handle.run_dir):
                failure += f" (the run directory {handle.run_dir.path} was removed, since the study never started)"
            self.post_message(StudyAborted(failure))
        elif status != 0 and not handle.ended.is_set():
            self.post_message(
                StudyAborted(
                    f"the study's process (pid {process.pid}) exited with status {status} before the study ended; "
                    f"see {process.log_path}"
                )
            )

    def _run_here(self, handle: StudyHandle) -> None:
        """Run the study that `settings.study_factory` builds on this thread, as tests do with a fake engine."""
        assert self.experiment is not None and self.settings.study_factory is not None
        journal: Journal | None = None
        lock = RunLock(handle.run_dir)
        log_handler = _open_run_log(handle.run_dir)
        package_logger = logging.getLogger("tunescope")
        if log_handler is not None:
            package_logger.addHandler(log_handler)
        try:
            # `tunescope attach` and `resume` tell from the lock whether a
            # process still runs this study.
            lock.acquire()
            journal = Journal(handle.run_dir.journal)
            self.post_message(DeviceFound(self.settings.device_probe()))
            study = self.settings.study_factory(self.experiment, handle.run_dir, [journal, self._post_event])
            handle.attach(study)
            study.run()
        except TunescopeError as error:
            logger.error("the study stopped: %s", error)
            self.post_message(StudyAborted(str(error)))
        finally:
            try:
                if journal is not None:
                    journal.close()
                    write_reports_logged(handle.run_dir)
            finally:
                if log_handler is not None:
                    package_logger.removeHandler(log_handler)
                    log_handler.close()
                lock.release()

    def _post_event(self, event: Event) -> None:
        """Queue `event` for the next redraw; called on the study's thread.

        No message is posted, because each one wakes the app's thread, which
        then takes Python's interpreter lock from the training loop. The
        redraw timer takes the queued events in order.
        """
        if isinstance(event, StudyFinished) and self.handle is not None:
            self.handle.ended.set()
        self._inbox.append(event)

    def _take_events(self) -> None:
        """Handle the queued engine events, oldest first, as their messages would be handled."""
        while self._inbox:
            event = self._inbox.popleft()
            message = message_for(event)
            self._handlers[type(message)](message)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "study" or not event.worker.is_finished:
            return
        self._read_files()
        self._take_events()
        # Cancel and Setup depend on whether the study still runs.
        self.refresh_bindings()
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        logger.error("the study failed: %s: %s", type(error).__name__, error, exc_info=error)
        self.post_message(StudyAborted(f"the study failed: {type(error).__name__}: {error}"))

    # -- engine messages -------------------------------------------------------

    def _record(self, event: Event) -> None:
        self.events.append(event)
        self.query_one(TunerProgress).mark_time(event.time)

    def on_device_found(self, message: DeviceFound) -> None:
        self._show_device(message.description)

    def _show_device(self, description: str) -> None:
        self.device = description
        self.sub_title = f"{description} | {self.run_dir.path.name}"

    def on_study_began(self, message: StudyBegan) -> None:
        event = message.event
        self._record(event)
        self.title = f"tunescope: {event.study}"
        if event.device:
            self._show_device(event.device)
        space = SearchSpace.from_dicts(event.space)
        objective = Objective(event.objective, event.direction)
        experiment = self.experiment or self._attached_experiment(event.config_dir)
        budgets = {tuner.name: tuner.max_trials for tuner in experiment.tuners} if experiment else None
        self.query_one(TunerProgress).start_study(list(event.tuners), event.objective, event.direction, budgets)
        self.query_one(TrialTable).set_objective(event.objective, event.direction)
        self.query_one(TrialDetail).metric = event.objective
        self.query_one(HeatMap).configure(space, objective)
        self.query_one(BoundsPanel).set_log_scale({p.name: p.is_log for p in space})

    def _attached_experiment(self, config_dir: str) -> Experiment | None:
        """Read the attached run's copy of its experiment, for the budgets of tuners that have not started yet."""
        try:
            text = self.run_dir.config.read_text(encoding="utf-8")
            return parse_experiment(text, source=str(self.run_dir.config), base_dir=Path(config_dir or self.run_dir.path))
        except (OSError, UnicodeDecodeError, TunescopeError) as error:
            logger.debug("budgets of tuners not started yet are unknown: %s", error)
            return None

    def on_tuner_began(self, message: TunerBegan) -> None:
        self._record(message.event)
        self.query_one(TunerProgress).tuner_started(message.event)

    def on_trial_began(self, message: TrialBegan) -> None:
        self._record(message.event)
        self.query_one(TrialTable).trial_started(message.event)

    def on_epoch_began(self, message: EpochBegan) -> None:
        self._epoch(message)

    def on_epoch_completed(self, message: EpochCompleted) -> None:
        self._epoch(message)

    def _epoch(self, message: EpochBegan | EpochCompleted) -> None:
        self._record(message.event)
        self.query_one(TrialTable).epoch_progressed(message.event)

    def on_trial_landed(self, message: TrialLanded) -> None:
        event = message.event
        self._record(event)
        self.query_one(TrialTable).trial_finished(event)
        self.query_one(TunerProgress).trial_finished(event)
        self.query_one(HeatMap).add_trial(event)
        if event.status == FAILED:
            logger.warning("%s trial %d failed: %s", event.tuner, event.number, event.reason or "no reason given")

    def on_round_closed(self, message: RoundClosed) -> None:
        self._record(message.event)
        self.query_one(BoundsPanel).round_finished(message.event)

    def on_tuner_ended(self, message: TunerEnded) -> None:
        self._record(message.event)
        self.query_one(TunerProgress).tuner_finished(message.event)

    def on_study_ended(self, message: StudyEnded) -> None:
        # The app closes its quit dialog at the end. The message reaches it
        # once, whether it was posted here or handled from the queue.
        message.stop()
        self.app.post_message(StudyEnded(message.event))
        event = message.event
        self._record(event)
        self.finished = event
        self.query_one(TunerProgress).study_finished()
        self._show_run_state("")
        self.show_changes()
        reason = f": {event.reason}" if event.reason else ""
        severity = "information" if event.status == FINISHED else "warning"
        self.notify(f"study {event.status}{reason}; press r for the results", title="Study ended", severity=severity)
        self.refresh_bindings()

    def on_study_aborted(self, message: StudyAborted) -> None:
        self._read_files()
        self._take_events()
        if not self.run_dir.path.exists():
            # The run directory of a study that never started is removed.
            self.sub_title = "no run directory: the study never started"
        self._show_run_state(f"the study stopped: {message.message}")
        self.query_one(TunerProgress).study_finished()
        self.show_changes()
        self.notify(message.message, title="The study stopped", severity="error", timeout=30)
        self.refresh_bindings()

    def _check_owner(self) -> None:
        """Show whether a process still holds the attached run's lock, when that has changed since the last check.

        It is called after the journal has been read to its end, so a study
        that ended has its end queued.
        """
        owner = run_owner(self.run_dir)
        if self._owner is not None and owner.alive == self._owner.alive:
            return
        self._owner = owner
        if owner.alive is False:
            # The process may have journaled its end after the last read.
            self._read_journal()
        self._take_events()
        if self.finished is not None:
            return
        ended = owner.alive is False
        self.query_one(TunerProgress).set_owner_ended(ended)
        self.query_one(TrialTable).set_process_ended(ended)
        if not ended:
            self._show_run_state("")
            return
        process = f"the process running this study (pid {owner.pid})" if owner.pid is not None else "the process running this study"
        if self.events:
            text = f"{process} has ended without finishing; `tunescope resume {self.run_dir.path}` continues it"
        else:
            # Without a study_started record there is nothing to resume.
            log = self.run_dir.path / HEADLESS_LOG_NAME
            where = f"see {log}" if log.is_file() else "its journal is empty and it wrote no log file"
            text = f"{process} has ended before the study started; {where}"
        logger.warning("%s", text)
        self._show_run_state(text)

    def _show_run_state(self, text: str) -> None:
        state = self.query_one("#run-state", Static)
        state.update(text)
        state.display = bool(text)

    # -- trial detail ----------------------------------------------------------

    def on_trial_table_row_highlighted(self, event: TrialTable.RowHighlighted) -> None:
        self.query_one(TrialDetail).show(event.table.highlighted_record)

    # -- actions ---------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_study":
            handle = self.handle
            return handle is not None and handle.running and not handle.ended.is_set() and not handle.cancel_requested
        if action == "results":
            return self.finished is not None
        if action == "back":
            return self.handle is not None and not self.handle.running
        if action == "toggle_map":
            return self.has_class("-narrow")
        return True

    def action_cancel_study(self) -> None:
        def answered(answer: str | None) -> None:
            if answer == "cancel" and self.handle is not None:
                self.handle.cancel()
                self.notify("the study stops after the current epoch", title="Cancelling")
                self.refresh_bindings()

        dialog = ConfirmDialog(
            "Cancel the study?",
            "It stops after the current epoch. The journal keeps every trial that finished, "
            "and the reports are written from it.",
            [("Cancel the study", "cancel"), ("Keep running", "keep")],
        )
        self.app.push_screen(dialog, answered)

    def action_sort(self) -> None:
        self.query_one(TrialTable).action_cycle_sort()

    def action_next_pair(self) -> None:
        self.query_one(HeatMap).next_pair()

    def action_next_tuner(self) -> None:
        self.query_one(HeatMap).next_tuner()

    def action_toggle_map(self) -> None:
        self.toggle_class("-show-map")

    def action_results(self) -> None:
        from .results import ResultsScreen

        self.app.push_screen(ResultsScreen(self.settings, self.run_dir, list(self.events)))

    def action_back(self) -> None:
        self.dismiss()


def _open_run_log(run_dir: RunDir) -> RunLogHandler | None:
    """Open the run's log file, written as `tunescope run --no-tui` writes it, so that `tunescope attach` shows its lines."""
    try:
        return RunLogHandler(run_dir.path)
    except OSError as error:
        # The study goes on, and only `tunescope attach` loses the log lines.
        logger.warning("the log file %s cannot be written (%s); `tunescope attach` will show no log lines", run_dir.path / HEADLESS_LOG_NAME, error)
        return None
