"""Run the app and `--no-tui` at the same time, each pinned to a core of its own, and compare their search times.

Run from the repository root on a machine with at least two cores (Linux,
with `taskset`):

    .venv/bin/python benchmarks/bench_app_paired.py --repeats 8

`bench_app_overhead.py --terminal` runs the two modes one after the other.
On a shared virtual machine their search times then scatter by about 10%
from one run to the next, far more than the 2% that the app may cost,
because the load on the host changes between the runs. Here both run in the same
minute, so such changes slow both alike:

- no-tui: `tunescope run CONFIG --no-tui` under `taskset -c A`;
- app: `tunescope run CONFIG` in an 80x24 pseudo-terminal under
  `taskset -c B`. The app and the study's child process it starts share
  core B, so every wake-up of the app takes time from that study's core.
  On a machine with free cores the app would use another core, which makes
  this ratio an upper bound of the app's cost.

Each study thus trains on one core. The cores swap between repeats, which
cancels a difference between the two cores. Each repeat prints the two search times
(the sum of the tuners' search times in each journal) and their ratio;
the end prints the median and a bootstrap 95% interval of the median.

With `--no-app`, the app's study process runs alone in the app's place
(`python -m tunescope.tui.study_process RUN_DIR`), which separates what the
child process costs from what the app costs.

By default `--no-tui` writes plain lines to a file, as under `nohup` or in
CI, which is its cheapest view. With `--no-tui-terminal` it runs in an
80x24 pseudo-terminal too and draws its Rich live table there, as a person
watching it over SSH would run it.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _machine import describe_machine
from tunescope.core.store import create_run_dir
from bench_app_overhead import (
    DEFAULT_TERMINAL_SIZE,
    GOAL_RATIO,
    STUDY_THREAD_LAUNCHER,
    add_study_arguments,
    journal_times,
    print_search_ratios,
    run_app_on_terminal,
    tunescope_command,
    write_config,
)
from _pty import drain_until_exit, spawn_on_terminal, terminal_environment

# The end of the no-tui run's output kept for error messages.
_TAIL_BYTES = 16384
_NO_TUI_TIMEOUT_SECONDS = 3600.0


def run_bare_study_process(config: Path, out: Path, core: int) -> float:
    """Run the app's study process alone on `core`, with no app, and return its search seconds."""
    run_dir = create_run_dir("bare", config.read_text(encoding="utf-8"), out.parent, out)
    run_dir.journal.touch()
    status = subprocess.run(
        ["taskset", "-c", str(core), sys.executable, "-m", "tunescope.tui.study_process", str(run_dir.path),
         "--config-dir", str(config.parent)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        timeout=_NO_TUI_TIMEOUT_SECONDS, start_new_session=True,
    ).returncode
    if status != 0:
        raise SystemExit(f"the study process exited with status {status}; see {run_dir.path / 'tunescope.log'}")
    return journal_times(run_dir.path)[0]


class NoTuiOnTerminal:
    """`tunescope run --no-tui` in a pseudo-terminal whose output a thread reads and drops, so that its writes do not block."""

    def __init__(self, command: list[str], root: Path) -> None:
        columns, lines = DEFAULT_TERMINAL_SIZE
        self.process, self._primary = spawn_on_terminal(
            command, columns=columns, lines=lines, cwd=root, env=terminal_environment(columns, lines)
        )
        self._status: list[int] = []
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        try:
            self._status.append(drain_until_exit(self._primary, self.process, _NO_TUI_TIMEOUT_SECONDS))
        finally:
            os.close(self._primary)

    def wait(self, timeout: float) -> int:
        self._reader.join(timeout)
        if not self._status:
            raise subprocess.TimeoutExpired(self.process.args, timeout)
        return self._status[0]


def run_pair(
    command: list[str],
    app_command: list[str] | None,
    config: Path,
    root: Path,
    repeat: int,
    cores: tuple[int, int],
    no_tui_terminal: bool = False,
) -> tuple[float, float]:
    """Run no-tui on `cores[0]` and the app (or with no `app_command` the bare study process) on `cores[1]` at once.

    Return the two search times, the app's first.
    """
    no_tui_core, app_core = cores
    no_tui_out = root / f"no-tui-{repeat}"
    app_out = root / f"app-{repeat}"
    log = root / f"no-tui-{repeat}.log"
    no_tui_command = ["taskset", "-c", str(no_tui_core), *command, "run", str(config), "--no-tui", "--out", str(no_tui_out)]
    with open(log, "wb") as handle:
        no_tui: subprocess.Popen[bytes] | NoTuiOnTerminal
        if no_tui_terminal:
            no_tui = NoTuiOnTerminal(no_tui_command, root)
            process = no_tui.process
        else:
            no_tui = process = subprocess.Popen(
                no_tui_command, stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT, cwd=root
            )
        try:
            if app_command is None:
                app_seconds = run_bare_study_process(config, app_out, app_core)
            else:
                app_terminal = ["taskset", "-c", str(app_core), *app_command]
                app_seconds = run_app_on_terminal(app_terminal, config, app_out, DEFAULT_TERMINAL_SIZE).search_seconds
            status = no_tui.wait(timeout=_NO_TUI_TIMEOUT_SECONDS)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    if status != 0:
        tail = log.read_bytes()[-_TAIL_BYTES:].decode("utf-8", "replace")
        where = "on a terminal, so its output was not kept" if no_tui_terminal else f"Its output ended with:\n{tail}"
        raise SystemExit(f"tunescope run --no-tui exited with status {status}. {where}")
    return app_seconds, journal_times(no_tui_out)[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_study_arguments(parser, repeats=8)
    parser.add_argument(
        "--no-app", action="store_true",
        help="run the app's study process alone in the app's place, to compare it with --no-tui",
    )
    parser.add_argument(
        "--no-tui-terminal", action="store_true",
        help="run --no-tui in a pseudo-terminal, where it draws its live table, instead of writing lines to a file",
    )
    args = parser.parse_args()
    if shutil.which("taskset") is None or not hasattr(os, "sched_getaffinity"):
        parser.error("this benchmark needs Linux with the taskset command")
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        parser.error(f"this benchmark needs two cores; this process may use {len(cores)}")

    logging.basicConfig(level=logging.WARNING)
    for line in describe_machine():
        print(line)
    print(
        f"study: digits, dnn, random and bayesian, {args.trials} trials x {args.epochs} epochs each, "
        f"{args.repeats} repeats; no-tui and the app ({DEFAULT_TERMINAL_SIZE[0]}x{DEFAULT_TERMINAL_SIZE[1]}) "
        f"at once on cores {cores[0]} and {cores[1]}, swapped each repeat"
    )

    if args.no_app and args.study_thread:
        parser.error("--no-app runs no app, so --study-thread does not apply")
    if args.no_app:
        print("in the app's place: its study process alone (--no-app)")
    else:
        print("the app's study: " + ("on a thread of the app (--study-thread)" if args.study_thread else "in a child process"))
    print("--no-tui: " + ("live table on a pseudo-terminal (--no-tui-terminal)" if args.no_tui_terminal else "plain lines to a file"))

    label = "study process" if args.no_app else "app"
    command = tunescope_command()
    app_command: list[str] | None = command
    if args.study_thread:
        app_command = [sys.executable, "-c", STUDY_THREAD_LAUNCHER]
    elif args.no_app:
        app_command = None
    ratios = []
    with tempfile.TemporaryDirectory(prefix="tunescope-app-paired-") as folder:
        root = Path(folder)
        config = write_config(root, args.trials, args.epochs, root / "app-runs")
        for repeat in range(args.repeats):
            pair = (cores[0], cores[1]) if repeat % 2 == 0 else (cores[1], cores[0])
            started = time.perf_counter()
            app_seconds, no_tui_seconds = run_pair(command, app_command, config, root, repeat, pair, args.no_tui_terminal)
            ratios.append(app_seconds / no_tui_seconds)
            print(
                f"repeat {repeat + 1} ({time.perf_counter() - started:.0f} s): no-tui on core {pair[0]} "
                f"{no_tui_seconds:.2f} s, {label} on core {pair[1]} {app_seconds:.2f} s ({ratios[-1]:.3f}x)"
            )
    print_search_ratios(ratios)
    print(f"median app / no-tui: {statistics.median(ratios):.3f}x (goal <= {GOAL_RATIO}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
