"""The `tunescope` command line as a user runs it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tiny_experiment import tiny_experiment

from tunescope.tui.cli import main

BROKEN = Path(__file__).parent / "configs" / "broken"



def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--help"])
    assert caught.value.code == 0
    output = capsys.readouterr().out
    for command in ("run", "report", "attach"):
        assert command in output


@pytest.mark.parametrize("name", ["misspelled_key", "inverted_range"])
def test_bad_config_one_line_exit_2(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / f"{name}.toml"
    config.write_text((BROKEN / f"{name}.toml").read_text())
    status = main(["run", str(config), "--no-tui", "--out", str(tmp_path / "run")])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1
    assert str(config) in captured.err
    assert not (tmp_path / "run").exists()


def test_unknown_command_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["run"])
    assert caught.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_misspelled_command_named(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as caught:
        main(["runn", "q.toml"])
    assert caught.value.code == 2
    assert "unknown command 'runn' (did you mean 'run'?)" in capsys.readouterr().err


def test_abbreviated_option_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["run", "q.toml", "--no-tu"])
    assert caught.value.code == 2
    assert "--no-tu" in capsys.readouterr().err


def test_command_error_points_at_command_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["resume", "somewhere", "--extend", "0"])
    assert caught.value.code == 2
    assert "see `tunescope resume --help`" in capsys.readouterr().err


@pytest.mark.slow
def test_headless_run_in_pipe_prints_plain_lines(tmp_path: Path) -> None:
    config = tmp_path / "tiny.toml"
    config.write_text(tiny_experiment())
    run_dir = tmp_path / "run"
    env = {**os.environ, "TERM": "xterm-256color"}
    result = subprocess.run(
        [sys.executable, "-m", "tunescope.tui.cli", "run", str(config), "--no-tui", "--out", str(run_dir)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "\x1b[" not in result.stdout
    lines = result.stdout.splitlines()
    assert sum(1 for line in lines if re.search(r"random\s+trial \d/2\s+completed", line)) == 2
    assert any("best val_accuracy" in line for line in lines)
    for name in ("journal.jsonl", "config.toml", "trials.csv", "summary.csv", "summary.md"):
        assert (run_dir / name).is_file(), name
    assert (run_dir / "best_models" / "random.keras").is_file()


@pytest.mark.slow
def test_ctrl_c_stops_after_current_epoch(tmp_path: Path) -> None:
    config = tmp_path / "tiny.toml"
    # Epochs of tiny models take a fraction of a second, so a trial of few
    # epochs could end before the signal arrives; 40 keep it mid-trial.
    config.write_text(tiny_experiment(epochs=40, max_trials=3))
    run_dir = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "tunescope.tui.cli", "run", str(config), "--no-tui", "--out", str(run_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        journal = run_dir / "journal.jsonl"
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if journal.is_file() and '"epoch_ended"' in journal.read_text():
                break
            time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=240)
    finally:
        if process.poll() is None:
            process.kill()

    assert process.returncode == 130, stderr
    assert "stopping after the current epoch" in stdout + stderr
    events = [json.loads(line) for line in journal.read_text().splitlines()]
    assert events[-1]["event"] == "study_finished"
    assert events[-1]["status"] == "stopped"
    statuses = [e["status"] for e in events if e["event"] == "trial_finished"]
    assert statuses[-1] == "cancelled"
    assert len(statuses) < 3
    assert (run_dir / "summary.md").is_file()
