"""Count how often the app's process wakes while its study trains (Linux only).

Run from the repository root:

    .venv/bin/python benchmarks/bench_app_wakeups.py
    .venv/bin/python benchmarks/bench_app_wakeups.py --seconds 20 --size 160x50

The app runs `tunescope run CONFIG` (digits, dense network, random search
with 200 trials of 4 epochs, far more than the measurement needs) in a
pseudo-terminal, as a person would run it. Once the first trial has ended,
the script reads each thread's context switches and CPU time from
/proc/PID/task/TID for `--seconds`, and prints per thread and in total:

- voluntary switches per second: the thread went to sleep and woke again,
  as a poll loop or a timer does;
- involuntary switches per second: the kernel took the core from the
  thread, here mostly to run the study's process;
- CPU seconds used in the window.

The study's own process is not counted. On a machine whose cores are all
busy with training, each wake-up of the app takes time from the study, so
fewer is better. The script then sends SIGTERM, which stops the study after
its current epoch, and waits for the app to exit.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

from _machine import describe_machine
from _pty import drain_until_exit, read_output, spawn_on_terminal, terminal_environment
from _spaces import SPACES
from bench_app_overhead import parse_size, tunescope_command

from tunescope.core.events import TrialFinished
from tunescope.core.store import read_journal

_FIRST_TRIAL_TIMEOUT_SECONDS = 600.0
_EXIT_TIMEOUT_SECONDS = 300.0


@dataclass(frozen=True)
class ThreadSample:
    """One thread's counters at one moment."""

    voluntary: int
    involuntary: int
    cpu_seconds: float


def sample_threads(pid: int) -> dict[int, ThreadSample]:
    """Read every thread's context switches and CPU time of process `pid` from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    samples = {}
    for name in os.listdir(f"/proc/{pid}/task"):
        task = Path(f"/proc/{pid}/task/{name}")
        try:
            status = task.joinpath("status").read_text(encoding="ascii")
            # Fields after the command name, which may hold spaces: utime and stime are the 12th and 13th.
            stat = task.joinpath("stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
        except OSError:
            # The thread ended between the listing and the read.
            continue
        counters = dict(line.split(":\t") for line in status.splitlines() if "ctxt_switches" in line)
        samples[int(name)] = ThreadSample(
            voluntary=int(counters["voluntary_ctxt_switches"]),
            involuntary=int(counters["nonvoluntary_ctxt_switches"]),
            cpu_seconds=(int(stat[11]) + int(stat[12])) / ticks,
        )
    return samples


def write_config(folder: Path) -> Path:
    text = textwrap.dedent(
        f"""
        [experiment]
        name = "app-wakeups"
        seed = 42
        output = "{(folder / 'runs').as_posix()}"
        [dataset]
        name = "digits"
        [model]
        family = "dnn"
        [budget]
        max_trials = 200
        epochs = 4
        batch_size = 32
        [[tuners]]
        type = "random"
        """
    ) + textwrap.dedent(SPACES["dnn"])
    path = folder / "app-wakeups.toml"
    path.write_text(text, encoding="utf-8")
    return path


def wait_for_first_trial(journal: Path, primary: int) -> None:
    """Read the app's output until the journal contains a finished trial."""
    deadline = time.monotonic() + _FIRST_TRIAL_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if read_output(primary, 0.5) is None:
            raise SystemExit("the app closed its terminal before the first trial ended")
        if journal.is_file() and any(isinstance(event, TrialFinished) for event in read_journal(journal)):
            return
    raise SystemExit(f"no trial ended within {_FIRST_TRIAL_TIMEOUT_SECONDS:.0f} s")


def read_for(primary: int, seconds: float) -> float:
    """Read and drop the app's output for `seconds`, and return the seconds that passed."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        read_output(primary, 0.05)
    return time.monotonic() - started


def positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not (seconds > 0 and math.isfinite(seconds)):
        raise argparse.ArgumentTypeError(f"invalid window {text!r}; expected a number of seconds above 0, for example 10")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=positive_seconds, default=10.0, help="length of the measurement window (default 10)")
    parser.add_argument("--size", type=parse_size, default=(80, 24), help="terminal size as COLUMNSxLINES (default 80x24)")
    args = parser.parse_args()
    if not Path("/proc/self/task").is_dir():
        parser.error("this benchmark reads /proc, so it needs Linux")

    for line in describe_machine():
        print(line)
    columns, lines = args.size
    with tempfile.TemporaryDirectory(prefix="tunescope-app-wakeups-") as folder:
        root = Path(folder)
        config = write_config(root)
        out = root / "runs" / "measured"
        child, primary = spawn_on_terminal(
            [*tunescope_command(), "run", str(config), "--out", str(out)],
            columns=columns, lines=lines, cwd=root, env=terminal_environment(columns, lines),
        )
        try:
            wait_for_first_trial(out / "journal.jsonl", primary)
            before = sample_threads(child.pid)
            seconds = read_for(primary, args.seconds)
            after = sample_threads(child.pid)
            child.send_signal(signal.SIGTERM)
            status = drain_until_exit(primary, child, _EXIT_TIMEOUT_SECONDS)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            os.close(primary)

    print(f"the app's process at {columns}x{lines}, over {seconds:.1f} s of training (exit status after SIGTERM: {status}):")
    print(f"{'thread':>12} {'voluntary/s':>12} {'involuntary/s':>14} {'CPU s':>7}")
    totals = [0.0, 0.0, 0.0]
    for tid, end in sorted(after.items()):
        start = before.get(tid)
        if start is None:
            continue
        rates = (
            (end.voluntary - start.voluntary) / seconds,
            (end.involuntary - start.involuntary) / seconds,
            end.cpu_seconds - start.cpu_seconds,
        )
        totals = [total + rate for total, rate in zip(totals, rates)]
        if any(rates):
            label = "main" if tid == child.pid else str(tid)
            print(f"{label:>12} {rates[0]:12.1f} {rates[1]:14.1f} {rates[2]:7.2f}")
    print(f"{'total':>12} {totals[0]:12.1f} {totals[1]:14.1f} {totals[2]:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
