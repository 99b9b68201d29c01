"""A study that the app runs in a child process and follows through its journal.

Training a small Keras model is bound by Python's interpreter lock. Run in
the app's own process, the study's thread lost that lock to Textual's input,
output and event-loop threads each time they woke, and the search took 3 to
7% longer than with `--no-tui` (docs/benchmarks.md). A child process has an
interpreter lock of its own.

The child is `python -m tunescope.tui.study_process RUN_DIR --config-dir DIR`.
It takes the run's lock, runs the experiment copied into RUN_DIR, writes the
journal, RUN_DIR/tunescope.log and the reports, as `tunescope run --no-tui`
does without its view, and reads commands from its standard input, one per
line: `cancel REASON` stops the study after the current epoch. It runs in a
session of its own, so a closed terminal or a Ctrl-C reaches it only through
the app, as the on-quit setting decides. An app that is killed leaves it
running, and `tunescope attach RUN_DIR` shows it again.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TextIO

from tunescope.core.errors import TunescopeError
from tunescope.core.events import Event
from tunescope.core.store import RunDir, follow_journal

from .study_handle import HEADLESS_LOG_NAME, RunLogHandler

# Named, not __name__: the child runs this file as __main__.
logger = logging.getLogger("tunescope.tui.study_process")

CANCEL_COMMAND = "cancel"

# Written into the run directory by a child that cannot start the study, and
# removed by the app once read, so a successful run leaves no such file.
START_ERROR_NAME = ".start-error"

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class StudyProcess:
    """The app's side of a study run in a child process: start it, follow its events, cancel it.

    Thread-safe: `cancel` may come from any thread while another follows
    the journal.
    """

    def __init__(self, run_dir: RunDir, config_dir: Path | None, python: str = sys.executable) -> None:
        self.run_dir = run_dir
        self.config_dir = config_dir
        self.python = python
        self._process: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    @property
    def log_path(self) -> Path:
        return self.run_dir.path / HEADLESS_LOG_NAME

    @property
    def error_path(self) -> Path:
        return self.run_dir.path / START_ERROR_NAME

    def start(self) -> None:
        """Start the child; its native output and tracebacks go to the run's log file."""
        # The run screen opens the journal before the child has written to it.
        self.run_dir.journal.touch(exist_ok=True)
        self.error_path.unlink(missing_ok=True)
        command = [self.python, "-m", "tunescope.tui.study_process", str(self.run_dir.path), "--error-file", str(self.error_path)]
        if self.config_dir is not None:
            command += ["--config-dir", str(self.config_dir)]
        environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=log,
                text=True,
                env=environment,
                start_new_session=True,
            )
        logger.debug("study process %d started: %s", self._process.pid, " ".join(command))

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def events(self, poll_seconds: float = 0.2, stop: Callable[[], bool] = lambda: False) -> Iterator[Event]:
        """Yield the journal's events as the child writes them, until the study ends, the child exits or `stop()`."""
        process = self._started()
        exited = False

        def at_end_of_journal() -> bool:
            # One more pass after the exit is seen reads what the child wrote last.
            nonlocal exited
            if exited or stop():
                return True
            exited = process.poll() is not None
            return False

        yield from follow_journal(self.run_dir.journal, stop=at_end_of_journal, poll_seconds=poll_seconds)

    def wait(self, stop: Callable[[], bool] = lambda: False, poll_seconds: float = 1.0) -> int | None:
        """Wait for the child to exit, after its reports, and return its exit status; None if `stop()` came first.

        `stop` is called every `poll_seconds`. A daemon thread blocks in
        `waitpid` meanwhile, because `Popen.wait` with a timeout polls the
        child at least every 50 ms (CPython 3.11's subprocess.py), and each
        wake-up takes time from the study.
        """
        process = self._started()
        exited = threading.Event()

        def reap() -> None:
            process.wait()
            exited.set()

        threading.Thread(target=reap, name="tunescope-study-reaper", daemon=True).start()
        while not exited.wait(timeout=poll_seconds):
            if stop():
                return None
        with self._lock:
            if process.stdin is not None:
                process.stdin.close()
        return process.returncode

    def failure(self) -> str:
        """Return, after `wait`, the reason the study could not start, or "" when the child wrote none."""
        try:
            reason = self.error_path.read_text(encoding="utf-8").strip()
        except OSError:
            return ""
        self.error_path.unlink(missing_ok=True)
        return reason

    def cancel(self, reason: str = "") -> None:
        """Ask the child to stop after the current epoch, with `reason` for the journal ("" for the user)."""
        process = self._started()
        line = f"{CANCEL_COMMAND} {' '.join(reason.split())}\n"
        with self._lock:
            try:
                assert process.stdin is not None
                process.stdin.write(line)
                process.stdin.flush()
            except (BrokenPipeError, ValueError, OSError):
                # The child has exited or is closing, so there is nothing to stop.
                logger.debug("study process %d no longer takes commands", process.pid)

    def _started(self) -> subprocess.Popen[str]:
        if self._process is None:
            raise RuntimeError("the study process has not been started")
        return self._process


def write_reports_logged(run_dir: RunDir) -> None:
    """Write the reports from the journal, as `tunescope run` does; a failure is logged, not raised."""
    from tunescope.core.report import write_reports

    try:
        # `write_reports` logs the files it wrote.
        write_reports(run_dir)
    except (TunescopeError, OSError) as error:
        logger.error("the reports of %s could not be written: %s; run `tunescope report %s`", run_dir.path, error, run_dir.path)
    except Exception:
        # The journal contains every event, so a bug in the reports must not
        # hide the study's own outcome. The traceback goes to the log.
        logger.exception("the reports of %s could not be written; run `tunescope report %s`", run_dir.path, run_dir.path)


def remove_unstarted_run(run_dir: RunDir) -> bool:
    """Delete a run directory whose study never started, and return whether it was deleted.

    Only a directory with an empty journal that contains nothing but the
    files the app and the child write before the study starts is deleted,
    as `tunescope run --no-tui` writes nothing when its data or model fails.
    """
    expected = {run_dir.config.name, run_dir.journal.name, run_dir.lock.name, HEADLESS_LOG_NAME, START_ERROR_NAME}
    try:
        if run_dir.journal.stat().st_size > 0:
            return False
        names = {path.name for path in run_dir.path.iterdir()}
        if not names <= expected:
            return False
        shutil.rmtree(run_dir.path)
    except OSError as error:
        logger.warning("the run directory %s of a study that never started was not removed: %s", run_dir.path, error)
        return False
    return True


# -- the child's side -----------------------------------------------------------


def _listen(commands: TextIO, study: object) -> threading.Thread:
    """Pass the app's commands on to the study, from a daemon thread, until the app closes the pipe."""

    def read() -> None:
        for line in commands:
            command, _, reason = line.rstrip("\n").partition(" ")
            if command == CANCEL_COMMAND:
                study.cancel(reason)  # type: ignore[attr-defined]
            else:
                logger.warning("unknown command from the app ignored: %r", command)
        # An app that exits without a word has crashed or been killed; the
        # study goes on, and `tunescope attach` shows it.
        logger.debug("the app closed its command pipe")

    thread = threading.Thread(target=read, name="tunescope-commands", daemon=True)
    thread.start()
    return thread


def run_child(run_dir_path: Path, config_dir: Path | None) -> int:
    """Run the study of `run_dir_path` as the app's child and return the exit status.

    Raises `TunescopeError` for a problem found before the study starts.
    """
    from tunescope.core.config import load_experiment
    from tunescope.core.data import load_dataset
    from tunescope.core.store import Journal, RunLock, open_run_dir
    from tunescope.core.study import Study, check_model, import_tensorflow

    from .worker import run_cancellable

    run_dir = open_run_dir(run_dir_path)
    experiment = load_experiment(run_dir.config, base_dir=config_dir or run_dir.path)
    with RunLock(run_dir):
        # As `tunescope run --no-tui` does: the first trial then starts in a
        # process that has built a model, so the two search times compare.
        import_tensorflow()
        dataset = load_dataset(experiment.dataset, seed=experiment.seed)
        check_model(experiment, dataset)
        journal = Journal(run_dir.journal)
        study = Study(experiment, run_dir, [journal], dataset=dataset)
        _listen(sys.stdin, study)
        outcome = run_cancellable(study)
        journal.close()
        write_reports_logged(run_dir)
    if outcome is not None:
        logger.error("the study stopped: %s", outcome)
        return EXIT_FAILED
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tunescope.tui.study_process", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--config-dir", type=Path, default=None, help="the folder that the experiment's relative paths start from")
    parser.add_argument("--error-file", type=Path, default=None, help="where to write the one-line reason when the study cannot start")
    arguments = parser.parse_args(argv)
    try:
        handler = RunLogHandler(arguments.run_dir)
    except OSError as error:
        parser.exit(
            EXIT_USAGE,
            f"{parser.prog}: error: {arguments.run_dir}: cannot write its log file ({error.strerror}); "
            "pass a run directory that tunescope created\n",
        )
    package = logging.getLogger("tunescope")
    package.setLevel(logging.INFO)
    package.addHandler(handler)
    logging.getLogger("py.warnings").addHandler(handler)
    logging.captureWarnings(True)
    try:
        return run_child(arguments.run_dir, arguments.config_dir)
    except TunescopeError as error:
        logger.error("the study could not start: %s", error)
        if arguments.error_file is not None:
            try:
                arguments.error_file.write_text(str(error), encoding="utf-8")
            except OSError as write_error:
                logger.error("the reason could not be written to %s: %s", arguments.error_file, write_error)
        return EXIT_FAILED
    finally:
        handler.close()


if __name__ == "__main__":
    sys.exit(main())
