"""A child process on a pseudo-terminal, for tests that run the real app the way a terminal would."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType


def _take_terminal() -> None:
    # Runs in the child after setsid(): the pty on stdin becomes its
    # controlling terminal, so closing the primary side sends it SIGHUP.
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class PseudoTerminal:
    """Run `command` on a pseudo-terminal of `columns` x `lines`, keeping everything it writes in `output`.

    With `new_session`, the child leads a session of its own, and with
    `controlling` as well the pseudo-terminal becomes its controlling
    terminal, so that `hang_up` also sends it SIGHUP. Leaving the `with`
    block kills a child that is still running and closes the terminal.
    """

    def __init__(
        self,
        command: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        columns: int = 80,
        lines: int = 24,
        new_session: bool = False,
        controlling: bool = False,
    ) -> None:
        self.primary, secondary = pty.openpty()
        fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
        self.process = subprocess.Popen(
            list(command),
            stdin=secondary,
            stdout=secondary,
            stderr=secondary,
            env=dict(env),
            cwd=cwd,
            close_fds=True,
            start_new_session=new_session or controlling,
            preexec_fn=_take_terminal if controlling else None,
        )
        os.close(secondary)
        self.output = bytearray()
        self._open = True
        # The app blocks on a full terminal buffer unless someone reads it.
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self.primary, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.output.extend(chunk)

    def write(self, data: bytes) -> None:
        """Type `data` into the terminal."""
        os.write(self.primary, data)

    def wait_for(self, condition: Callable[[], bool], timeout: float, description: str) -> None:
        """Poll `condition` until it is true; fail naming `description` after `timeout` seconds or when the child exits."""
        deadline = time.monotonic() + timeout
        while not condition():
            if self.process.poll() is not None:
                raise AssertionError(f"the process exited with status {self.process.returncode} before {description}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {description}")
            time.sleep(0.2)

    def hang_up(self) -> None:
        """Close the terminal's primary side, as tmux does on kill-session and sshd when a connection drops."""
        if self._open:
            self._open = False
            os.close(self.primary)

    def __enter__(self) -> PseudoTerminal:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=5)
        self.hang_up()
