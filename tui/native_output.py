"""Keep output that native code writes to the terminal off the app's screen.

TensorFlow's C++ runtime, CUDA libraries and some custom model code write
straight to file descriptors 1 and 2, past Python's `sys.stdout`, so Textual
cannot capture them and they would land over the screen. While the app
runs, both descriptors point into a pipe whose lines are logged (the log pane
shows them), and Textual draws on a duplicate of the original terminal.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from collections.abc import Iterator

logger = logging.getLogger("tunescope.native")


@contextlib.contextmanager
def native_output_to_log() -> Iterator[None]:
    """Route file descriptors 1 and 2 to the log while the block runs."""
    original_stderr = sys.__stderr__
    if original_stderr is None or not original_stderr.isatty():
        # Not a terminal (tests, a pipe): there is no screen to protect.
        yield
        return
    try:
        sys.stderr.flush()
        sys.stdout.flush()
        saved_out, saved_err = os.dup(1), os.dup(2)
        terminal = os.dup(2)
        read_end, write_end = os.pipe()
    except OSError:
        yield
        return

    screen = os.fdopen(terminal, "w", encoding=original_stderr.encoding, errors=original_stderr.errors or "strict")
    reader = threading.Thread(target=_log_lines, args=(read_end,), name="tunescope-native-output", daemon=True)
    os.dup2(write_end, 1)
    os.dup2(write_end, 2)
    os.close(write_end)
    # Textual's Linux driver writes the screen to sys.__stderr__ and reads
    # the terminal's size with shutil.get_terminal_size(), which asks
    # sys.__stdout__; on the pipe that would stay 80x24 after every resize.
    original_stdout = sys.__stdout__
    sys.__stderr__ = screen
    sys.__stdout__ = screen
    reader.start()
    try:
        yield
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
        screen.close()


def _log_lines(read_end: int) -> None:
    with os.fdopen(read_end, "rb") as pipe:
        for raw in pipe:
            line = raw.decode("utf-8", errors="replace").rstrip()
            if line:
                logger.info("%s", line)
