"""Run a child process on a pseudo-terminal, as the benchmarks that open the app do (POSIX only)."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time
from collections.abc import Sequence
from pathlib import Path

CTRL_Q = b"\x11"

# CSI and OSC sequences, charset selections and keypad modes: what Textual
# writes between the characters of a frame.
_ESCAPE_SEQUENCE = re.compile(rb"\x1b(?:\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[()][0-9A-Za-z]|[=>])")


def terminal_environment(columns: int, lines: int) -> dict[str, str]:
    """Return this process's environment as a colour terminal of `columns` x `lines` would set it."""
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": str(lines)}
    # Either would change what Textual draws.
    for name in ("NO_COLOR", "TEXTUAL_COLOR_SYSTEM"):
        env.pop(name, None)
    return env


def spawn_on_terminal(
    command: Sequence[str], *, columns: int, lines: int, cwd: Path, env: dict[str, str]
) -> tuple[subprocess.Popen[bytes], int]:
    """Start `command` with a new pseudo-terminal of `columns` x `lines` as its stdin, stdout and stderr.

    Return the child and the terminal's primary file descriptor, which the
    caller must keep reading, because the child blocks once the terminal's
    buffer is full, and must close.
    """
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
    try:
        child = subprocess.Popen(
            list(command), stdin=secondary, stdout=secondary, stderr=secondary, env=env, cwd=cwd, close_fds=True
        )
    except BaseException:
        os.close(primary)
        raise
    finally:
        os.close(secondary)
    return child, primary


def read_output(primary: int, timeout: float) -> bytes | None:
    """Read what the child wrote to the terminal, waiting up to `timeout` seconds.

    Return b"" when nothing came in time, and None once every process has
    closed the terminal (Linux reports that as EIO).
    """
    ready, _, _ = select.select([primary], [], [], max(0.0, timeout))
    if not ready:
        return b""
    try:
        chunk = os.read(primary, 65536)
    except OSError:
        return None
    return chunk or None


def drain_until_exit(primary: int, child: subprocess.Popen[bytes], timeout: float) -> int:
    """Read and drop the terminal's output until `child` exits, and return its exit status.

    Raise `subprocess.TimeoutExpired` when it is still running after `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    while child.poll() is None and time.monotonic() < deadline:
        if read_output(primary, 0.1) is None:
            break
    return child.wait(timeout=max(1.0, deadline - time.monotonic()))


def screen_text(output: bytes) -> str:
    """Return terminal output with its escape sequences removed, as text."""
    return _ESCAPE_SEQUENCE.sub(b"", output).decode("utf-8", "replace")
