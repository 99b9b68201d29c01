"""The real app in a pseudo-terminal, driving a tiny real study from the keyboard."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest
from tiny_experiment import tiny_experiment

pytestmark = pytest.mark.slow


CTRL_R = b"\x12"
CTRL_Q = b"\x11"


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_app_runs_study_in_terminal(tmp_path: Path) -> None:
    output = tmp_path / "runs"
    config = tmp_path / "pty.toml"
    config.write_text(tiny_experiment(name="pty", output=output))

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24"}
    process = subprocess.Popen(
        [sys.executable, "-m", "tunescope.tui.cli", str(config)],
        stdin=slave, stdout=slave, stderr=slave, env=env, cwd=tmp_path, close_fds=True,
    )
    os.close(slave)

    screen = bytearray()

    def drain() -> None:
        # The app blocks on a full terminal buffer unless someone reads it.
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            screen.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        wait_for(lambda: b"ctrl+r" in screen.lower() or b"^r" in screen.lower(), 60, "the setup screen")
        os.write(master, CTRL_R)

        def journal_finished() -> bool:
            journals = list(output.glob("*/journal.jsonl"))
            return bool(journals) and "study_finished" in journals[0].read_text()

        wait_for(journal_finished, 300, "the study to finish")
        run_dir = next(output.glob("*/journal.jsonl")).parent
        wait_for(lambda: (run_dir / "summary.md").is_file(), 60, "the reports")

        os.write(master, CTRL_Q)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)

    assert process.returncode == 0
    assert (run_dir / "trials.csv").read_text().count("\nrandom,") == 2
    assert (run_dir / "best_models" / "random.keras").is_file()
