"""The Textual app: opens the setup screen, or a run directory in attach mode.

The command line calls `run_app`. The screens do the work, and this module
wires them up and confirms a quit while a study runs. After the app has
closed, it lets that study go on headless or stops it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO, cast

from textual.app import App
from textual.binding import Binding

from tunescope.core.errors import TunescopeError
from tunescope.core.events import StudyFinished
from tunescope.core.store import open_run_dir, read_journal

from .ascii_chrome import use_ascii_chrome
from .messages import StudyEnded
from .screens.confirm import ConfirmDialog
from .screens.setup import SetupScreen
from .native_output import native_output_to_log
from .settings import AppSettings, wants_ascii
from .study_handle import TERMINATED, finish_after_exit

# Seconds between checks that the terminal is still there. Writes find a
# lost terminal too, but a screen with nothing to redraw writes nothing.
TERMINAL_CHECK_SECONDS = 1.0

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
# 128 + SIGTERM, as a shell reports a process that SIGTERM ended.
EXIT_TERMINATED = 143


class TunescopeApp(App[int]):
    """Set up a study, run and watch it, compare the tuners."""

    CSS_PATH = "app.tcss"
    TITLE = "tunescope"
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", priority=True)]

    def __init__(
        self,
        config_path: Path | None = None,
        run_dir: Path | None = None,
        start: bool = False,
        settings: AppSettings | None = None,
        out: Path | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings if settings is not None else AppSettings()
        self.config_path = config_path
        self.run_dir_path = run_dir
        self.start = start
        self.out = out
        self.terminal_lost = False
        self.terminated = False
        self._quit_dialog: ConfirmDialog | None = None
        # Returns whether the terminal is still there; `run_app` sets it.
        self.terminal_check: Callable[[], bool] | None = None
        if self.settings.ascii_only:
            use_ascii_chrome(self)

    def on_mount(self) -> None:
        if self.terminal_check is not None:
            self.set_interval(TERMINAL_CHECK_SECONDS, self.terminal_check)
        if self.run_dir_path is None:
            self.push_screen(SetupScreen(self.settings, self.config_path, self.start, self.out))
            return
        try:
            self._open_run(self.run_dir_path)
        except TunescopeError as error:
            self.exit(EXIT_USAGE, message=f"tunescope: error: {error}")

    def _open_run(self, path: Path) -> None:
        """Attach: follow a run that is still going, or show the results of a finished one."""
        from .screens.results import ResultsScreen
        from .screens.run import RunScreen

        run_dir = open_run_dir(path)
        events = read_journal(run_dir.journal)
        if any(isinstance(event, StudyFinished) for event in events):
            self.push_screen(ResultsScreen(self.settings, run_dir, events))
        else:
            self.push_screen(RunScreen.attached(self.settings, run_dir))

    async def action_quit(self) -> None:
        study = self.settings.study
        if study is None or not study.running or study.cancel_requested or study.check_journal_end():
            # A study that has ended only writes its reports, and a cancelled
            # one only finishes its epoch. `run_app` waits for either.
            self.exit(EXIT_OK)
            return

        def answered(answer: str | None) -> None:
            if answer in ("keep", "stop"):
                self.settings.keep_running_on_quit = answer == "keep"
                self.exit(EXIT_OK)

        keep = ("Keep it running headless", "keep")
        stop = ("Stop it after this epoch", "stop")
        answers = [keep, stop] if self.settings.keep_running_on_quit else [stop, keep]
        body = (
            f"A study is running in {study.run_dir.path}. Headless, it goes on in this terminal "
            "and keeps writing its journal; `tunescope attach` shows it again."
        )
        self._quit_dialog = ConfirmDialog("Quit tunescope?", body, [*answers, ("Back", "back")])
        self.push_screen(self._quit_dialog, answered)

    def on_study_ended(self, message: StudyEnded) -> None:
        """Close an open quit dialog about the study's fate, since the study has ended meanwhile."""
        dialog = self._quit_dialog
        self._quit_dialog = None
        if dialog is not None and dialog.is_active:
            dialog.dismiss(None)
            self.notify("the study has ended; press ctrl+q to quit", title="Study ended")

    def terminate(self) -> None:
        """Close the app on SIGTERM, so that the study stops after its current epoch whatever the on-quit setting."""
        if self.terminated:
            return
        self.terminated = True
        logger.warning("SIGTERM received; closing the app")
        self.exit(EXIT_TERMINATED)

    def hang_up(self) -> None:
        """Close the app because the terminal went away, so that the on-quit setting decides the study's end.

        Called on SIGHUP and when the terminal fails with EIO, whichever comes first.
        """
        if self.terminal_lost:
            return
        self.terminal_lost = True
        logger.warning("the terminal was closed; closing the app")
        self.exit(EXIT_OK)


def run_app(
    config_path: Path | None,
    run_dir: Path | None = None,
    start: bool = False,
    *,
    settings: AppSettings | None = None,
    out: Path | None = None,
) -> int:
    """Open the app and return the exit status.

    With `run_dir`, attach to that run (live or finished); otherwise open the
    setup screen, prefilled from `config_path`, and with `start` run the
    study at once. A study still running when the app closes then goes on
    headless or stops, as the on-quit setting selects. `settings` replaces the
    defaults (the real engine, and ASCII where the locale is not UTF-8), as tests do.
    """
    # TensorFlow's C++ logging writes to the terminal directly, past Textual.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    settings = settings if settings is not None else AppSettings(ascii_only=wants_ascii())
    app = TunescopeApp(config_path, run_dir, start=start, settings=settings, out=out)

    # A loop of our own, not asyncio.run: asyncio.run would wait for the
    # study's worker thread before returning, with no word to the person.
    loop = asyncio.new_event_loop()

    def hang_up() -> None:
        # From a signal handler or Textual's writer thread. After the app has
        # closed, the loop no longer runs and the study's end is decided.
        if loop.is_running():
            loop.call_soon_threadsafe(app.hang_up)

    # A plain signal handler, not loop.add_signal_handler: switching from
    # that to SIG_IGN passes through SIG_DFL, and a SIGHUP in between would
    # kill the process under the study.
    def terminate() -> None:
        if loop.is_running():
            loop.call_soon_threadsafe(app.terminate)

    hangup = getattr(signal, "SIGHUP", None)
    previous_hangup = signal.signal(hangup, lambda *_: hang_up()) if hangup is not None else None
    previous_terminate = signal.signal(signal.SIGTERM, lambda *_: terminate())
    # Textual 8.2.8 handles Ctrl-Z and `fg` while it runs and leaves its handlers
    # installed after it closes, where they fail without its event loop.
    job_control = [getattr(signal, name) for name in ("SIGTSTP", "SIGCONT") if hasattr(signal, name)]
    previous_job_control = {signum: signal.getsignal(signum) for signum in job_control}
    headless_terminated = False

    def terminate_headless(signum: int, frame: object) -> None:
        # As for `--no-tui`: the first SIGTERM stops the study after its
        # epoch, and a later one counts as a Ctrl-C that leaves at once.
        nonlocal headless_terminated
        study = settings.study
        if study is not None and not study.cancel_requested:
            headless_terminated = True
            logger.info("SIGTERM received; stopping the study after the current epoch")
            study.cancel(TERMINATED)
            return
        raise KeyboardInterrupt

    try:
        # Native output stays in the log until the study has ended: the
        # terminal may be gone, or another session's by then.
        with _logging_for_app(), native_output_to_log(on_terminal_lost=hang_up) as terminal:
            if terminal is not None:
                app.terminal_check = terminal.check
            try:
                status = app.run(loop=loop)
            finally:
                if hangup is not None:
                    # What the on-quit setting chose now holds, SIGHUP or not.
                    signal.signal(hangup, signal.SIG_IGN)
                signal.signal(signal.SIGTERM, terminate_headless)
                for signum, handler in previous_job_control.items():
                    signal.signal(signum, handler)

            study = settings.study
            if study is not None and study.running:
                terminal_lost = app.terminal_lost or (terminal is not None and not terminal.check())
                keep_running = settings.keep_running_on_quit and not app.terminated
                stop_reason = TERMINATED if app.terminated else ""
                stream = cast("TextIO | None", terminal)
                try:
                    finished = finish_after_exit(study, keep_running, terminal_lost, stream=stream, stop_reason=stop_reason)
                except KeyboardInterrupt:
                    # A second signal while the first one's message was
                    # written, or a study on a thread of this process.
                    study.abandoned.set()
                    finished = False
                if not finished or study.interrupted:
                    status = EXIT_INTERRUPTED
                elif headless_terminated:
                    status = EXIT_TERMINATED
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        loop.close()
        signal.signal(signal.SIGTERM, previous_terminate)
        for signum, handler in previous_job_control.items():
            signal.signal(signum, handler)
        if hangup is not None:
            signal.signal(hangup, previous_hangup)
    if status is None:
        return app.return_code or EXIT_OK
    return status


@contextmanager
def _logging_for_app() -> Iterator[None]:
    """Keep log records off the terminal while the app draws on it.

    The Run screen's log pane adds its own handler to the root logger. Stream
    handlers already there are set aside until the app closes. Warnings go
    through logging from here on, and stay there after the app closes, since
    a study may go on headless on a terminal that is gone.
    """
    root = logging.getLogger()
    streams = [h for h in root.handlers if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)]
    for handler in streams:
        root.removeHandler(handler)
    package = logging.getLogger("tunescope")
    level = package.level
    if level == logging.NOTSET:
        package.setLevel(logging.INFO)
    logging.captureWarnings(True)
    try:
        yield
    finally:
        package.setLevel(level)
        for handler in streams:
            root.addHandler(handler)
