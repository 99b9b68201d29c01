"""The study the app is running, shared by its worker thread and the quit logic.

The Run screen's worker creates the study and runs it, and the screen
cancels it on request. After the app has quit, `finish_after_exit` either
lets it go on headless or stops it, as the person chose.
"""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path
from typing import Protocol, TextIO

from tunescope.core.store import RunDir

logger = logging.getLogger(__name__)

# Name of the log file in a run directory. `tunescope run --no-tui` writes
# it, and so does a study that goes on after the app quit on a lost terminal.
# `tunescope attach` shows its lines.
HEADLESS_LOG_NAME = "tunescope.log"
LOG_FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class StudyLike(Protocol):
    """The part of `tunescope.core.study.Study` that the app calls."""

    def run(self) -> object: ...

    def cancel(self) -> None: ...


class StudyHandle:
    """A running study: its run directory, the study once built, and whether it ended.

    Thread-safe. A cancel requested before the worker has built the study is
    passed on as soon as `attach` is called.
    """

    def __init__(self, run_dir: RunDir) -> None:
        self.run_dir = run_dir
        self.finished = threading.Event()
        self._lock = threading.Lock()
        self._study: StudyLike | None = None
        self._cancel_requested = False

    def attach(self, study: StudyLike) -> None:
        with self._lock:
            self._study = study
            cancel = self._cancel_requested
        if cancel:
            study.cancel()

    def cancel(self) -> None:
        """Ask the study to stop after the current epoch."""
        with self._lock:
            self._cancel_requested = True
            study = self._study
        if study is not None:
            study.cancel()

    @property
    def cancel_requested(self) -> bool:
        with self._lock:
            return self._cancel_requested

    @property
    def running(self) -> bool:
        return not self.finished.is_set()


def finish_after_exit(handle: StudyHandle, keep_running: bool, terminal_lost: bool, stream: TextIO | None = None) -> None:
    """Let a study that outlived the app go on headless, or stop it, and wait for its end.

    With `keep_running`, the study goes on and its log lines go to `stream`
    (stderr by default); Ctrl-C then stops it after the current epoch.
    Without, it is cancelled at once. When the terminal is gone (SIGHUP),
    log lines go to a log file in the run directory instead.
    """
    stream = stream if stream is not None else sys.stderr
    handler = _headless_handler(handle.run_dir.path, terminal_lost, stream)
    package_logger = logging.getLogger("tunescope")
    level = package_logger.level
    if package_logger.getEffectiveLevel() > logging.INFO:
        # Starts, stops and ends are logged at INFO; the person needs them.
        package_logger.setLevel(logging.INFO)
    package_logger.addHandler(handler)
    try:
        if keep_running:
            logger.info(
                "the study goes on headless, writing %s; press Ctrl-C to stop it after the current epoch",
                handle.run_dir.journal,
            )
        else:
            logger.info("stopping the study after the current epoch")
            handle.cancel()
        _wait(handle)
    finally:
        package_logger.removeHandler(handler)
        package_logger.setLevel(level)
        handler.close()


def _wait(handle: StudyHandle) -> None:
    while True:
        try:
            # A timed wait keeps the main thread able to take Ctrl-C.
            if handle.finished.wait(timeout=0.5):
                return
        except KeyboardInterrupt:
            if handle.cancel_requested:
                raise
            logger.info("stopping the study after the current epoch; press Ctrl-C again to leave at once")
            handle.cancel()


def _headless_handler(run_dir: Path, terminal_lost: bool, stream: TextIO) -> logging.Handler:
    handler: logging.Handler
    if terminal_lost:
        handler = logging.FileHandler(run_dir / HEADLESS_LOG_NAME, encoding="utf-8")
    else:
        handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(LOG_FILE_FORMAT))
    return handler
