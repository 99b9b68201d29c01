"""Keep output that native code writes to the terminal off the app's screen.

TensorFlow's C++ runtime, CUDA libraries and some custom model code write
straight to file descriptors 1 and 2, past Python's `sys.stdout`, so Textual
cannot capture them and they would land over the screen. While the app
runs, both descriptors point into a pipe whose lines are logged (the log pane
shows them), and Textual draws on a duplicate of the original terminal.

That duplicate is a `Terminal`, which also notices when the terminal goes
away (tmux kills the pane, an SSH connection drops): writes then fail with
EIO. Textual's writer thread would die on the first such error, and the app
would then block on its full output queue, so `Terminal` drops the output
and reports the loss instead.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import termios
import threading
from collections.abc import Callable, Iterator
from typing import Any, TextIO

NATIVE_LOGGER_NAME = "tunescope.native"

logger = logging.getLogger(NATIVE_LOGGER_NAME)


class Terminal:
    """A text stream on the terminal that drops its output once the terminal is gone.

    `on_lost` is called once, from whichever thread first finds the terminal
    gone, so it must be thread-safe. Other attributes come from `stream`.
    """

    def __init__(self, stream: TextIO, on_lost: Callable[[], None] | None = None) -> None:
        self._stream = stream
        self._on_lost = on_lost
        self._lock = threading.Lock()
        self.lost = False

    def write(self, text: str) -> int:
        if self.lost:
            return len(text)
        try:
            return self._stream.write(text)
        except (OSError, ValueError):
            self._mark_lost()
            return len(text)

    def flush(self) -> None:
        if self.lost:
            return
        try:
            self._stream.flush()
        except (OSError, ValueError):
            self._mark_lost()

    def check(self) -> bool:
        """Return whether the terminal is still there, and report its loss if not.

        A write alone would find out only when there is something to draw.
        On a hung-up terminal every terminal request but one fails with EIO
        (Linux), so asking for its attributes is a cheap probe.
        """
        if self.lost:
            return False
        try:
            termios.tcgetattr(self._stream.fileno())
        except (termios.error, OSError, ValueError):
            self._mark_lost()
            return False
        return True

    def _mark_lost(self) -> None:
        with self._lock:
            if self.lost:
                return
            self.lost = True
        if self._on_lost is not None:
            self._on_lost()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def native_output_to_log(on_terminal_lost: Callable[[], None] | None = None) -> Iterator[Terminal | None]:
    """Route file descriptors 1 and 2 to the log while the block runs, and yield the terminal.

    Yields None, and changes nothing, where standard error is not a terminal.
    `on_terminal_lost` is called once when writing to the terminal fails or
    `Terminal.check` finds it gone.
    """
    original_stderr = sys.__stderr__
    if original_stderr is None or not original_stderr.isatty():
        # Not a terminal (tests, a pipe): there is no screen to protect.
        yield None
        return
    try:
        sys.stderr.flush()
        sys.stdout.flush()
        saved_out, saved_err = os.dup(1), os.dup(2)
        terminal = os.dup(2)
        read_end, write_end = os.pipe()
    except OSError:
        yield None
        return

    stream = os.fdopen(terminal, "w", encoding=original_stderr.encoding, errors=original_stderr.errors or "strict")
    screen = Terminal(stream, on_terminal_lost)
    reader = threading.Thread(target=_log_lines, args=(read_end,), name="tunescope-native-output", daemon=True)
    os.dup2(write_end, 1)
    os.dup2(write_end, 2)
    os.close(write_end)
    # Textual's Linux driver writes the screen to sys.__stderr__ and reads the
    # terminal's size with shutil.get_terminal_size(), which queries
    # sys.__stdout__. On the pipe that size would stay 80x24 after a resize.
    original_stdout = sys.__stdout__
    sys.__stderr__ = screen  # type: ignore[assignment]
    sys.__stdout__ = screen  # type: ignore[assignment]
    reader.start()
    try:
        yield screen
    finally:
        sys.__stdout__ = original_stdout
        sys.__stderr__ = original_stderr
        # Pointing 1 and 2 back at the terminal closes the pipe's last
        # write ends, which ends the reader.
        os.dup2(saved_out, 1)
        os.dup2(saved_err, 2)
        os.close(saved_out)
        os.close(saved_err)
        reader.join(timeout=2)
        try:
            stream.close()
        except OSError:
            # The close flushes, which fails on a terminal that is gone.
            pass


def _log_lines(read_end: int) -> None:
    with os.fdopen(read_end, "rb") as pipe:
        for raw in pipe:
            line = raw.decode("utf-8", errors="replace").rstrip()
            if line:
                logger.info("%s", line)
