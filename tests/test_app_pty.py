"""The real app in a pseudo-terminal, driving a tiny real study from the keyboard."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from terminal import PseudoTerminal
from tiny_experiment import tiny_experiment

pytestmark = pytest.mark.slow


CTRL_R = b"\x12"
CTRL_Q = b"\x11"


def test_app_runs_study_in_terminal(tmp_path: Path) -> None:
    output = tmp_path / "runs"
    config = tmp_path / "pty.toml"
    config.write_text(tiny_experiment(name="pty", output=output))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24"}

    def journal_finished() -> bool:
        journals = list(output.glob("*/journal.jsonl"))
        return bool(journals) and "study_finished" in journals[0].read_text()

    with PseudoTerminal([sys.executable, "-m", "tunescope.tui.cli", str(config)], cwd=tmp_path, env=env) as terminal:
        screen = terminal.output
        terminal.wait_for(lambda: b"ctrl+r" in screen.lower() or b"^r" in screen.lower(), 60, "the setup screen")
        terminal.write(CTRL_R)
        terminal.wait_for(journal_finished, 300, "the study to finish")
        run_dir = next(output.glob("*/journal.jsonl")).parent
        terminal.wait_for(lambda: (run_dir / "summary.md").is_file(), 60, "the reports")
        terminal.write(CTRL_Q)
        terminal.process.wait(timeout=60)

    assert terminal.process.returncode == 0
    assert (run_dir / "trials.csv").read_text().count("\nrandom,") == 2
    assert (run_dir / "best_models" / "random.keras").is_file()
