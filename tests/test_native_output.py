"""Native output goes to the log while the app runs, and the terminal's size stays readable."""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess
import sys
import termios
import textwrap

import pytest

CHILD = textwrap.dedent(
    """
    import logging, os, shutil, sys
    from tunescope.tui.native_output import native_output_to_log

    logging.basicConfig(filename=sys.argv[1], level=logging.INFO)
    with native_output_to_log():
        os.write(1, b"written by native code\\n")
        size = shutil.get_terminal_size()
        sys.__stderr__.write(f"size {size.columns}x{size.lines}\\n")
        sys.__stderr__.flush()
    """
)


def run_in_terminal(tmp_path, columns: int, lines: int) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """Run CHILD on a pseudo-terminal of the given size; return what the terminal and the log received."""
    primary, secondary = os.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
    log = tmp_path / "native.log"
    env = {key: value for key, value in os.environ.items() if key not in ("COLUMNS", "LINES")}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(log)], stdin=secondary, stdout=secondary, stderr=secondary, env=env
    )
    os.close(secondary)
    received = b""
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:
            break
        if not chunk:
            break
        received += chunk
    child.wait(timeout=30)
    os.close(primary)
    return received.decode(errors="replace"), log.read_text(encoding="utf-8")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pseudo-terminals as on the servers tunescope runs on")
def test_terminal_size_seen_through_redirect(tmp_path) -> None:  # type: ignore[no-untyped-def]
    screen, _ = run_in_terminal(tmp_path, 100, 30)
    assert "size 100x30" in screen


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pseudo-terminals as on the servers tunescope runs on")
def test_native_write_goes_to_log_not_screen(tmp_path) -> None:  # type: ignore[no-untyped-def]
    screen, log = run_in_terminal(tmp_path, 80, 24)
    assert "written by native code" not in screen
    assert "written by native code" in log
