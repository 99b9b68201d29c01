"""A headless run outlives its terminal, keeps memory in check, and never writes a secret.

The hang-up and closed-output tests start `tunescope run --no-tui` as a
user would, in a subprocess, and take its terminal or its standard output
away while it trains. The secrets test runs in-process, with sockets limited
to 127.0.0.1, where a fake AiSara service takes the API key.
"""

from __future__ import annotations

import fcntl
import gc
import logging
import os
import pty
import select
import signal
import socket
import subprocess
import sys
import termios
import textwrap
import time
import weakref
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tunescope.core.config import parse_experiment
from tunescope.core.events import FINISHED, StudyFinished, TrialFinished, TunerFinished
from tunescope.core.store import Journal, create_run_dir, read_journal
from tunescope.core.study import MemoryWatch, Study
from tunescope.tui.cli import main

from fake_aisara_service import FakeAisaraService

# Seconds a whole subprocess run may take before the test fails.
RUN_SECONDS = 300


def experiment_text(tuners: str = '[[tuners]]\ntype = "random"\n', max_trials: int = 3) -> str:
    return textwrap.dedent(
        f"""
        [experiment]
        name = "survival"
        seed = 2
        [dataset]
        name = "digits"
        train_size = 150
        test_size = 100
        [model]
        family = "dnn"
        [budget]
        max_trials = {max_trials}
        epochs = 1
        batch_size = 64
        [[space]]
        name = "num_layers"
        type = "int"
        min = 1
        max = 2
        [[space]]
        name = "learning_rate"
        type = "log"
        min = 1e-3
        max = 1e-2
        """
    ) + tuners


def assert_run_complete(run_dir: Path) -> None:
    events = read_journal(run_dir / "journal.jsonl")
    assert isinstance(events[-1], StudyFinished)
    assert events[-1].status == FINISHED
    assert len([e for e in events if isinstance(e, TrialFinished)]) == 3
    for report in ("trials.csv", "summary.csv", "summary.md"):
        assert (run_dir / report).is_file(), report


def read_until(fd: int, marker: bytes, seconds: float) -> bytes:
    """Read from `fd` until `marker` appears; fail after `seconds`."""
    seen = b""
    deadline = time.monotonic() + seconds
    while marker not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"{marker!r} did not appear in:\n{seen.decode(errors='replace')[-2000:]}"
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                chunk = b""
            assert chunk, f"the output ended before {marker!r}:\n{seen.decode(errors='replace')[-2000:]}"
            seen += chunk
    return seen


def command(config: Path, run_dir: Path) -> list[str]:
    return [sys.executable, "-m", "tunescope.tui.cli", "run", str(config), "--no-tui", "--out", str(run_dir)]


@pytest.mark.slow
def test_closed_stdout_run_finishes(tmp_path: Path) -> None:
    config = tmp_path / "survival.toml"
    config.write_text(experiment_text())
    run_dir = tmp_path / "run"
    stderr = tmp_path / "stderr.txt"

    with open(stderr, "wb") as errors:
        process = subprocess.Popen(command(config, run_dir), stdout=subprocess.PIPE, stderr=errors, cwd=tmp_path)
        try:
            read_until(process.stdout.fileno(), b"trial 1/3  started", RUN_SECONDS)
            process.stdout.close()
            status = process.wait(timeout=RUN_SECONDS)
        finally:
            if process.poll() is None:
                process.kill()

    assert status == 0, stderr.read_text()[-3000:]
    assert_run_complete(run_dir)
    assert "Traceback" not in stderr.read_text()
    assert "BrokenPipeError" not in stderr.read_text()


def _take_terminal() -> None:
    # Runs in the child after setsid(): the pty on stdin becomes its
    # controlling terminal, as a login shell's terminal is for its jobs.
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


@pytest.mark.slow
def test_terminal_hangup_run_finishes(tmp_path: Path) -> None:
    config = tmp_path / "survival.toml"
    config.write_text(experiment_text())
    run_dir = tmp_path / "run"
    stderr = tmp_path / "stderr.txt"
    controller, terminal = pty.openpty()

    with open(stderr, "wb") as errors:
        process = subprocess.Popen(
            command(config, run_dir),
            stdin=terminal,
            stdout=terminal,
            stderr=errors,
            cwd=tmp_path,
            env={**os.environ, "TERM": "xterm-256color"},
            start_new_session=True,
            preexec_fn=_take_terminal,
        )
        os.close(terminal)
        try:
            # The live display shows the first trial running on the terminal.
            read_until(controller, b"running", RUN_SECONDS)
            # Closing the controlling side hangs the terminal up, as sshd
            # does when the connection drops; the kernel then sends SIGHUP.
            os.close(controller)
            process.send_signal(signal.SIGHUP)
            status = process.wait(timeout=RUN_SECONDS)
        finally:
            if process.poll() is None:
                process.kill()

    assert status == 0, stderr.read_text()[-3000:]
    assert_run_complete(run_dir)
    assert "Traceback" not in stderr.read_text()


# -- secrets ------------------------------------------------------------------------

SECRETS = {
    "AISARA_API_KEY": "aisara-key-7f3e9c1d5b",
    "MYSERVICE_API_KEY": "service-key-2b8a4f6e0c",
    "GITHUB_TOKEN": "token-9d4c1a7e3f58",
}


def allow_only_loopback(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    attempts: list[Any] = []
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> None:
        attempts.append(address)
        if not (isinstance(address, tuple) and address[0] == "127.0.0.1"):
            raise OSError(f"blocked by the test: connection to {address!r}")
        real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    for variable in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(variable, raising=False)
    return attempts


def file_texts(folder: Path) -> dict[str, bytes]:
    """Return every file's bytes under `folder`, and each zip member's too (a .keras model is a zip)."""
    contents = {}
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        contents[str(path)] = path.read_bytes()
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                for member in archive.namelist():
                    contents[f"{path}!{member}"] = archive.read(member)
    return contents


@pytest.mark.slow
def test_secrets_never_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    attempts = allow_only_loopback(monkeypatch)
    tuners = (
        '[[tuners]]\ntype = "random"\n'
        '[[tuners]]\ntype = "aisara-cloud"\nname = "cloud"\nmax_trials = 3\ntrials_per_round = 3\nrounds = 1\n'
    )
    config = tmp_path / "secrets.toml"
    config.write_text(experiment_text(tuners))
    run_dir = tmp_path / "run"
    caplog.set_level(logging.DEBUG)

    with FakeAisaraService(accepted_key=SECRETS["AISARA_API_KEY"]) as service:
        monkeypatch.setenv("TUNESCOPE_AISARA_URL", service.url)
        assert main(["-v", "run", str(config), "--no-tui", "--out", str(run_dir)]) == 0
        assert main(["-v", "report", str(run_dir)]) == 0

    results = {e.tuner: e for e in read_journal(run_dir / "journal.jsonl") if isinstance(e, TunerFinished)}
    assert results["cloud"].status == FINISHED
    assert results["cloud"].trials_completed == 3
    assert any(r.headers.get("x-rapidapi-key") == SECRETS["AISARA_API_KEY"] for r in service.requests)
    assert all(address[0] == "127.0.0.1" for address in attempts)

    captured = capsys.readouterr()
    outputs = {"stdout": captured.out.encode(), "stderr": captured.err.encode(), "log": caplog.text.encode()}
    outputs.update(file_texts(run_dir))
    for name, value in SECRETS.items():
        for where, content in outputs.items():
            assert value.encode() not in content, f"{name} appears in {where}"


# -- memory -----------------------------------------------------------------------------


def feed(watch: MemoryWatch, samples: list[float]) -> None:
    for index, rss in enumerate(samples):
        watch(TrialFinished("random", str(index), index + 1, "completed", {}, rss_mb=rss))


def memory_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "resident memory" in r.getMessage()]


def test_memory_watch_warns_on_steady_growth(caplog: pytest.LogCaptureFixture) -> None:
    # 30 MB more after every trial: 270 MB above the first by trial 10.
    feed(MemoryWatch(window=10, growth_mb=200, noise_mb=16), [1000.0 + 30.0 * i for i in range(20)])
    warnings = memory_warnings(caplog)
    assert len(warnings) == 1
    assert "grew to 1270 MB, 270 MB above its lowest" in warnings[0]


def test_memory_watch_warns_on_slow_leak(caplog: pytest.LogCaptureFixture) -> None:
    # 5 MB per trial with a small dip every fourth trial: 200 MB is passed after about 55 trials.
    samples = [1000.0 + 5.0 * i - (8.0 if i % 4 == 3 else 0.0) for i in range(80)]
    feed(MemoryWatch(window=10, growth_mb=200, noise_mb=16), samples)
    assert len(memory_warnings(caplog)) == 1


def test_memory_watch_ignores_level_memory(caplog: pytest.LogCaptureFixture) -> None:
    # Up and down by 10 MB around one level: noise, not growth.
    feed(MemoryWatch(window=10, growth_mb=200, noise_mb=16), [1500.0 + 10.0 * (i % 2) for i in range(40)])
    assert memory_warnings(caplog) == []


def test_memory_watch_ignores_one_jump(caplog: pytest.LogCaptureFixture) -> None:
    # One large model raises memory once, and then it stays level.
    samples = [800.0 if i < 5 else 1400.0 + (3.0 if i % 2 else 0.0) for i in range(40)]
    feed(MemoryWatch(window=10, growth_mb=200, noise_mb=16), samples)
    assert memory_warnings(caplog) == []


def test_memory_watch_ignores_sawtooth(caplog: pytest.LogCaptureFixture) -> None:
    # Memory that the allocator hands back every third trial is not a leak.
    samples = [1000.0 + 150.0 * (i % 3) for i in range(30)]
    feed(MemoryWatch(window=10, growth_mb=200, noise_mb=16), samples)
    assert memory_warnings(caplog) == []


def custom_gradient_names() -> set[str]:
    from tensorflow.python.framework import ops

    return {name for name in ops._gradient_registry._registry if name.startswith("CustomGradient-")}


@pytest.mark.slow
def test_trial_graphs_released(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tunescope.core.tuners.tuner import StudyTuner

    models: list[weakref.ref] = []
    real_build = StudyTuner._build_hypermodel

    def build(self: StudyTuner, hp: Any) -> Any:
        model = real_build(self, hp)
        models.append(weakref.ref(model))
        return model

    monkeypatch.setattr(StudyTuner, "_build_hypermodel", build)
    before = custom_gradient_names()
    first_trial_gradients: set[str] = set()

    def remember_first_trial(event: object) -> None:
        if isinstance(event, TrialFinished) and event.number == 1:
            first_trial_gradients.update(custom_gradient_names() - before)

    text = experiment_text()
    experiment = parse_experiment(text, base_dir=tmp_path)
    run_dir = create_run_dir("survival", text, tmp_path / "runs")
    journal = Journal(run_dir.journal)
    Study(experiment, run_dir, sinks=[journal, remember_first_trial]).run()
    journal.close()
    gc.collect()

    trials = [e for e in read_journal(run_dir.journal) if isinstance(e, TrialFinished)]
    assert len(trials) == 3
    for trial in trials:
        assert trial.rss_mb is not None
        assert trial.rss_mb > 0
    # Nothing holds the first trial's model or its traced graph any more.
    # (The best model's reload for the test evaluation builds one more.)
    assert len(models) == 4
    assert models[0]() is None
    assert first_trial_gradients
    assert not first_trial_gradients & custom_gradient_names()
