"""The study the app is running, shared by its worker thread and the quit logic.

The Run screen's worker starts the study (a `StudyProcess`, or a study on
the worker's own thread) and waits for it, and the screen cancels it on
request. After the app has quit, `finish_after_exit` either
lets it go on headless or stops it, as the person chose.
"""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path
from typing import Protocol, TextIO

from tunescope.core.errors import TunescopeError
from tunescope.core.events import StudyFinished, TrialFinished, TunerFinished
from tunescope.core.store import RunDir, follow_journal, read_journal

from .native_output import NATIVE_LOGGER_NAME

logger = logging.getLogger(__name__)

# Name of the log file in a run directory. `tunescope run --no-tui` and
# studies run in the app write it, and `tunescope attach` shows its lines.
HEADLESS_LOG_NAME = "tunescope.log"
LOG_FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# The journal's reason for a study that the app stopped when it lost its terminal.
TERMINAL_CLOSED = "stopped: the terminal was closed"
# The journal's reason for a study that the app stopped on SIGTERM.
TERMINATED = "stopped: tunescope received SIGTERM"

# Seconds to wait, after the study's end, for its last progress lines.
PROGRESS_JOIN_SECONDS = 2.0


class RunLogHandler(logging.FileHandler):
    """Appends log records to RUN_DIR/tunescope.log in `LOG_FILE_FORMAT`, for a study the app runs."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__(run_dir / HEADLESS_LOG_NAME, mode="a", encoding="utf-8")
        self.setFormatter(logging.Formatter(LOG_FILE_FORMAT))


class Cancellable(Protocol):
    """A study that the handle can cancel: a `Study` on a thread, or a `StudyProcess`."""

    def cancel(self, reason: str = "") -> None: ...


class StudyLike(Cancellable, Protocol):
    """The part of `tunescope.core.study.Study` that the app calls."""

    def run(self) -> object: ...


class StudyHandle:
    """A running study: its run directory, the study once built, and whether it ended.

    Thread-safe. A cancel requested before the worker has built the study is
    passed on as soon as `attach` is called.
    """

    def __init__(self, run_dir: RunDir) -> None:
        self.run_dir = run_dir
        # Set once the study has journaled its end. Its worker then writes
        # the reports and sets `finished`.
        self.ended = threading.Event()
        self.finished = threading.Event()
        # Set when the person leaves before the study's end. A worker that
        # waits for a study process then stops waiting, and the process goes on.
        self.abandoned = threading.Event()
        # True when the study runs in a process of its own, which can be left running.
        self.separate_process = False
        # True once a Ctrl-C after the app closed has stopped the study, so
        # the app exits as `--no-tui` does after a Ctrl-C.
        self.interrupted = False
        self._lock = threading.Lock()
        self._study: Cancellable | None = None
        self._cancel_requested = False
        self._stop_reason = ""

    def attach(self, study: Cancellable) -> None:
        with self._lock:
            self._study = study
            cancel = self._cancel_requested
            reason = self._stop_reason
        if cancel:
            study.cancel(reason)

    def cancel(self, reason: str = "") -> None:
        """Ask the study to stop after the current epoch, with `reason` for the journal ("" for the user)."""
        with self._lock:
            if not self._cancel_requested:
                self._stop_reason = reason
            self._cancel_requested = True
            study = self._study
        if study is not None:
            study.cancel(reason)

    def check_journal_end(self) -> bool:
        """Return whether the study has ended, reading the journal for an end the run screen has not read yet.

        A study in a child process journals its end up to one redraw of the
        run screen before `ended` is set, and a quit in that moment must not
        ask about a study that is over.
        """
        if not self.ended.is_set():
            try:
                events = read_journal(self.run_dir.journal)
            except TunescopeError:
                return False
            if any(isinstance(event, StudyFinished) for event in events):
                self.ended.set()
        return self.ended.is_set()

    @property
    def cancel_requested(self) -> bool:
        with self._lock:
            return self._cancel_requested

    @property
    def running(self) -> bool:
        return not self.finished.is_set()


def finish_after_exit(
    handle: StudyHandle, keep_running: bool, terminal_lost: bool, stream: TextIO | None = None, stop_reason: str = ""
) -> bool:
    """Let a study that outlived the app go on headless, or stop it, and wait for its end.

    With `keep_running`, the study goes on and its log lines go to `stream`
    (stderr by default); Ctrl-C then stops it after the current epoch.
    Without, it is cancelled at once with `stop_reason` for the journal, or
    with `TERMINAL_CLOSED` when `terminal_lost`. A study already cancelled is
    only waited for. Log lines also go to the run's log file, and only
    there when the terminal is gone. Native output and warnings always go
    to the log file, never to `stream`.

    Return True once the study has ended, or False when the person left
    first with a Ctrl-C after the cancel (SIGTERM counts too, since the
    caller turns it into KeyboardInterrupt). A study in its own process
    then goes on to the end of its epoch.
    """
    if handle.ended.is_set():
        # Only the reports are left to write, so there is nothing to stop.
        handle.finished.wait()
        return True
    warnings_logger = logging.getLogger("py.warnings")
    warnings_handler = RunLogHandler(handle.run_dir.path)
    warnings_logger.addHandler(warnings_handler)
    package_logger = logging.getLogger("tunescope")
    level = package_logger.level
    if package_logger.getEffectiveLevel() > logging.INFO:
        # Starts, stops and ends are logged at INFO; the person needs them.
        package_logger.setLevel(logging.INFO)
    handlers: list[logging.Handler] = []
    if not terminal_lost:
        handlers.append(_terminal_handler(stream if stream is not None else sys.stderr))
        package_logger.addHandler(handlers[-1])
    # Opened after the terminal's handler, which then shows why it failed, if it does.
    file_handler = _log_file_handler(handle.run_dir.path, package_logger)
    if file_handler is not None:
        handlers.append(file_handler)
        package_logger.addHandler(file_handler)
    progress: threading.Thread | None = None
    try:
        if handle.cancel_requested:
            logger.info("the study stops after the current epoch; press Ctrl-C to leave at once")
        elif keep_running:
            logger.info(
                "the study goes on headless, writing %s; press Ctrl-C to stop it after the current epoch",
                handle.run_dir.journal,
            )
            progress = _start_progress_lines(handle)
        elif terminal_lost:
            logger.info("stopping the study after the current epoch because the terminal was closed")
            handle.cancel(TERMINAL_CLOSED)
        else:
            logger.info("stopping the study after the current epoch")
            handle.cancel(stop_reason)
        finished = _wait(handle)
        if progress is not None and finished:
            # The thread reads the journal to its end before it stops.
            progress.join(timeout=PROGRESS_JOIN_SECONDS)
        if finished:
            _log_outcome(handle)
        return finished
    finally:
        for handler in handlers:
            package_logger.removeHandler(handler)
            handler.close()
        package_logger.setLevel(level)
        warnings_logger.removeHandler(warnings_handler)
        warnings_handler.close()


def _log_outcome(handle: StudyHandle) -> None:
    """Log how the study ended and where its reports are, as `--no-tui` shows at its end."""
    try:
        events = read_journal(handle.run_dir.journal)
    except TunescopeError as error:
        logger.warning("the study's end is unknown: %s", error)
        return
    finished = [event for event in events if isinstance(event, StudyFinished)]
    if not finished:
        logger.warning(
            "the study ended without a study_finished record; see %s", handle.run_dir.path / HEADLESS_LOG_NAME
        )
        return
    reason = f" ({finished[-1].reason})" if finished[-1].reason else ""
    logger.info("study %s%s; reports in %s", finished[-1].status, reason, handle.run_dir.path)


def _start_progress_lines(handle: StudyHandle) -> threading.Thread | None:
    """Log a line for each trial and tuner that ends from now on, read from the journal in a thread."""
    journal = handle.run_dir.journal
    if not journal.is_file():
        return None
    seen = len(read_journal(journal))

    def log_lines() -> None:
        for index, event in enumerate(follow_journal(journal, stop=handle.finished.is_set)):
            if index < seen:
                continue
            if isinstance(event, TrialFinished):
                objective = "" if event.objective is None else f", objective {event.objective:.4f}"
                logger.info("tuner %s trial %d %s%s", event.tuner, event.number, event.status, objective)
            elif isinstance(event, TunerFinished):
                logger.info(
                    "tuner %s %s: %d trials completed, %d failed",
                    event.tuner, event.status, event.trials_completed, event.trials_failed,
                )

    thread = threading.Thread(target=log_lines, name="tunescope-progress-lines", daemon=True)
    thread.start()
    return thread


def _wait(handle: StudyHandle) -> bool:
    """Wait for the study's end; return False when a Ctrl-C after the cancel leaves first."""
    while True:
        try:
            # A timed wait keeps the main thread able to take Ctrl-C.
            if handle.finished.wait(timeout=0.5):
                return True
        except KeyboardInterrupt:
            if handle.check_journal_end():
                logger.info("the study has ended; waiting for its reports")
                continue
            if not handle.cancel_requested:
                logger.info("stopping the study after the current epoch; press Ctrl-C again to leave at once")
                handle.interrupted = True
                handle.cancel()
                continue
            if not handle.separate_process:
                # The study trains in this process, which cannot leave without it.
                raise
            handle.abandoned.set()
            logger.warning(
                "leaving now; the study's process still stops after its current epoch and writes the reports, "
                "and `tunescope attach %s` shows it",
                handle.run_dir.path,
            )
            return False


def _log_file_handler(run_dir: Path, package_logger: logging.Logger) -> RunLogHandler | None:
    """Open the run's log file for the lines logged while the study goes on after the app, unless a handler writes it already."""
    if any(isinstance(existing, RunLogHandler) for existing in package_logger.handlers):
        return None
    try:
        return RunLogHandler(run_dir)
    except OSError as error:
        logger.warning("the log file %s cannot be written (%s); the study goes on without it", run_dir / HEADLESS_LOG_NAME, error)
        return None


def _terminal_handler(stream: TextIO) -> logging.Handler:
    """Return a handler that writes log lines to the terminal's `stream`, leaving native output to the log file."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(LOG_FILE_FORMAT))
    handler.addFilter(lambda record: not record.name.startswith(NATIVE_LOGGER_NAME))
    return handler
