"""The app loses its terminal during a study, and the on-quit setting decides what happens.

The slow tests start `tunescope run CONFIG` on a pseudo-terminal, which opens
the app and starts the study, and closes the pseudo-terminal's primary side
while a trial trains. That is what tmux does to a pane on `kill-session` and
what sshd does when a connection drops. With the pseudo-terminal as the
process's controlling terminal, the kernel also sends SIGHUP. Without it,
the process finds only its terminal failing (end of file on reads, EIO on
writes), as a process behind a shell that does not pass SIGHUP on would.
The fast tests check the parts alone, with the fake engine.
"""

from __future__ import annotations

import logging
import os
import pty
import signal
import sys
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

from tunescope.core.events import FINISHED, STOPPED, StudyFinished, TrialFinished
from tunescope.core.store import read_journal
from tunescope.tui.native_output import Terminal
from tunescope.tui.app import EXIT_TERMINATED
from tunescope.tui.study_handle import HEADLESS_LOG_NAME, TERMINAL_CLOSED, TERMINATED, finish_after_exit

from fake_engine import paused_study_in_thread
from terminal import PseudoTerminal
from tiny_experiment import tiny_experiment

MAX_TRIALS = 8
RUN_SECONDS = 300

# Runs the command line with "keep running headless" as the on-quit
# setting, which the Setup screen would otherwise have to select.
KEEP_RUNNING_LAUNCHER = """
import functools, sys
import tunescope.tui.app as app
app.AppSettings = functools.partial(app.AppSettings, keep_running_on_quit=True)
from tunescope.tui.cli import main
sys.exit(main(sys.argv[1:]))
"""


@dataclass
class TinyRun:
    """The command that opens the app on a tiny real study, with the folder its run goes into."""

    command: list[str]
    env: dict[str, str]
    output: Path

    def trial_started(self) -> bool:
        return any('"epoch_started"' in journal.read_text() for journal in self.output.glob("*/journal.jsonl"))

    def run_dir(self) -> Path:
        return next(self.output.glob("*/journal.jsonl")).parent


def tiny_run(tmp_path: Path, keep_running: bool, epochs: int = 2) -> TinyRun:
    """Write a tiny experiment and return the `tunescope run` command that opens the app on it."""
    output = tmp_path / "runs"
    config = tmp_path / "tiny.toml"
    config.write_text(tiny_experiment(name="tiny", output=output, epochs=epochs, max_trials=MAX_TRIALS))
    arguments = ["run", str(config)]
    if keep_running:
        command = [sys.executable, "-c", KEEP_RUNNING_LAUNCHER, *arguments]
    else:
        command = [sys.executable, "-m", "tunescope.tui.cli", *arguments]
    env = {**os.environ, "TERM": "xterm-256color", "LANG": "C.UTF-8"}
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    return TinyRun(command, env, output)


def run_and_close_terminal(tmp_path: Path, keep_running: bool, controlling: bool) -> tuple[int, Path]:
    """Start a study in the app, close its terminal during a trial, and return the exit status and run directory."""
    run = tiny_run(tmp_path, keep_running)
    with PseudoTerminal(run.command, cwd=tmp_path, env=run.env, new_session=True, controlling=controlling) as terminal:
        terminal.wait_for(run.trial_started, RUN_SECONDS, "a trial started")
        terminal.hang_up()
        status = terminal.process.wait(timeout=RUN_SECONDS)
    return status, run.run_dir()


@pytest.mark.slow
@pytest.mark.parametrize("controlling", [True, False], ids=["sighup", "eio-only"])
def test_closed_terminal_stops_study(tmp_path: Path, controlling: bool) -> None:
    status, run_dir = run_and_close_terminal(tmp_path, keep_running=False, controlling=controlling)

    events = read_journal(run_dir / "journal.jsonl")
    log = (run_dir / "tunescope.log").read_text()
    assert status == 0, log[-3000:]
    assert isinstance(events[-1], StudyFinished)
    assert events[-1].status == STOPPED
    assert events[-1].reason == "stopped: the terminal was closed"
    assert len([event for event in events if isinstance(event, TrialFinished)]) < MAX_TRIALS
    assert (run_dir / "summary.md").is_file()
    assert "Traceback" not in log


@pytest.mark.slow
def test_closed_terminal_keeps_study_running(tmp_path: Path) -> None:
    status, run_dir = run_and_close_terminal(tmp_path, keep_running=True, controlling=True)

    events = read_journal(run_dir / "journal.jsonl")
    log = (run_dir / "tunescope.log").read_text()
    assert status == 0, log[-3000:]
    assert isinstance(events[-1], StudyFinished)
    assert events[-1].status == FINISHED
    assert len([event for event in events if isinstance(event, TrialFinished)]) == MAX_TRIALS
    assert (run_dir / "summary.md").is_file()
    assert "the study goes on headless" in log
    assert "tuner random trial" in log
    assert "Traceback" not in log


@pytest.mark.slow
def test_sigterm_stops_study_and_restores_terminal(tmp_path: Path) -> None:
    run = tiny_run(tmp_path, keep_running=False)
    with PseudoTerminal(run.command, cwd=tmp_path, env=run.env, new_session=True) as terminal:
        terminal.wait_for(run.trial_started, RUN_SECONDS, "a trial started")
        terminal.process.send_signal(signal.SIGTERM)
        status = terminal.process.wait(timeout=RUN_SECONDS)
        screen = bytes(terminal.output)
    run_dir = run.run_dir()

    events = read_journal(run_dir / "journal.jsonl")
    assert status == EXIT_TERMINATED, (run_dir / "tunescope.log").read_text()[-3000:]
    assert events[-1].status == STOPPED
    assert events[-1].reason == TERMINATED
    assert (run_dir / "summary.md").is_file()
    # Textual left the alternate screen, so the shell's screen is back.
    assert b"\x1b[?1049l" in screen


@pytest.mark.slow
def test_headless_study_takes_job_control_and_sigterm(tmp_path: Path) -> None:
    """After the app closes with "keep running", Ctrl-Z and `fg` are harmless and SIGTERM stops the study with its reason."""
    run = tiny_run(tmp_path, keep_running=True, epochs=3)
    with PseudoTerminal(run.command, cwd=tmp_path, env=run.env, new_session=True) as terminal:
        terminal.wait_for(run.trial_started, RUN_SECONDS, "a trial started")
        terminal.write(b"\x11")
        terminal.wait_for(lambda: b"Quit tunescope?" in terminal.output, 30, "the quit dialog")
        # "Keep it running headless" comes first, and focused, with this on-quit setting.
        terminal.write(b"\r")
        terminal.wait_for(lambda: b"goes on headless" in terminal.output, 30, "the headless line")
        terminal.process.send_signal(signal.SIGTSTP)
        terminal.process.send_signal(signal.SIGCONT)
        terminal.process.send_signal(signal.SIGTERM)
        status = terminal.process.wait(timeout=RUN_SECONDS)
        screen = bytes(terminal.output)

    events = read_journal(run.run_dir() / "journal.jsonl")
    assert status == EXIT_TERMINATED, screen[-3000:]
    assert events[-1].status == STOPPED
    assert events[-1].reason == TERMINATED
    assert b"Traceback" not in screen
    assert b"reports in" in screen


# -- the parts, with the fake engine ----------------------------------------------


def test_lost_terminal_stop_gives_reason(tmp_path: Path) -> None:
    handle, study = paused_study_in_thread(tmp_path)

    finish_after_exit(handle, keep_running=False, terminal_lost=True)

    assert study.emitted[-1].status == STOPPED
    assert study.emitted[-1].reason == TERMINAL_CLOSED


def test_user_stop_gives_user_reason(tmp_path: Path) -> None:
    handle, study = paused_study_in_thread(tmp_path)

    with open(os.devnull, "w") as terminal:
        finish_after_exit(handle, keep_running=False, terminal_lost=False, stream=terminal)

    assert study.emitted[-1].reason == "cancelled by the user"


def test_headless_warnings_go_to_log_file(tmp_path: Path) -> None:
    handle, study = paused_study_in_thread(tmp_path)
    terminal_output = tmp_path / "terminal.txt"

    def warn_then_resume() -> None:
        warnings.warn("lbfgs failed to converge", UserWarning)
        study.resume.set()

    with warnings.catch_warnings(), open(terminal_output, "w") as terminal:
        warnings.simplefilter("always")
        # As the app leaves it: warnings go through logging.
        logging.captureWarnings(True)
        try:
            threading.Timer(0.2, warn_then_resume).start()
            finish_after_exit(handle, keep_running=True, terminal_lost=False, stream=terminal)
        finally:
            logging.captureWarnings(False)

    assert "lbfgs failed to converge" in (tmp_path / HEADLESS_LOG_NAME).read_text()
    assert "lbfgs failed to converge" not in terminal_output.read_text()
    assert "the study goes on headless" in terminal_output.read_text()


def test_terminal_reports_loss_once() -> None:
    primary, secondary = pty.openpty()
    losses: list[bool] = []
    stream = os.fdopen(secondary, "w")
    terminal = Terminal(stream, on_lost=lambda: losses.append(True))
    assert terminal.check()

    os.close(primary)
    terminal.write("after the hang-up\n")
    terminal.flush()
    terminal.write("more\n")

    assert terminal.lost
    assert not terminal.check()
    assert losses == [True]
    try:
        stream.close()
    except OSError:
        pass
