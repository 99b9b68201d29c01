"""Time tunescope's start-up: `tunescope --help` and the app's first screen.

Run from the repository root:

    .venv/bin/python benchmarks/bench_startup.py
    .venv/bin/python benchmarks/bench_startup.py --repeats 20

Each measurement starts a fresh Python process, so nothing is cached in
memory between runs beyond what the operating system caches, and reports the
median, minimum and maximum wall time and the median CPU time (user plus
system, which grows far less than wall time on a machine busy with other work)
over `--repeats` runs after one unmeasured run:

- help: the `tunescope` console script with `--help`, from process start to
  exit;
- first screen: a process that imports the app, opens it headless with
  Textual's `App.run_test` and waits until the setup screen is mounted, from
  process start until the child reports that screen.

Both children also report whether TensorFlow, Keras or Keras Tuner were
imported, which must never happen before a study starts. The goal is at most
0.5 s each.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _machine import describe_machine

GOAL_SECONDS = 0.5
HEAVY_MODULES = ("tensorflow", "keras", "keras_tuner", "pandas", "sklearn", "scipy")

_HELP_CHILD = """
import sys
from tunescope.tui.cli import main
try:
    main(["--help"])
except SystemExit:
    pass
import json
print(json.dumps({"heavy": [m for m in %r if m in sys.modules]}), file=sys.stderr)
""" % (HEAVY_MODULES,)

_APP_CHILD = """
import asyncio, json, sys, time
from tunescope.tui.app import TunescopeApp

async def first_screen():
    app = TunescopeApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = type(app.screen).__name__
        # The parent stops its clock at this line.
        cpu = time.process_time()
        print(json.dumps({"screen": screen, "cpu": cpu, "heavy": [m for m in %r if m in sys.modules]}), flush=True)

asyncio.run(first_screen())
""" % (HEAVY_MODULES,)


def time_help(executable: list[str]) -> tuple[float, float]:
    """Return the wall time and the child's CPU time (user + system) of one `--help` run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([*executable, "--help"], capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu


def heavy_after_help() -> list[str]:
    done = subprocess.run([sys.executable, "-c", _HELP_CHILD], capture_output=True, text=True, check=True)
    return json.loads(done.stderr.strip().splitlines()[-1])["heavy"]


def time_first_screen() -> tuple[float, float, str, list[str]]:
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", _APP_CHILD], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout is not None
    line = child.stdout.readline()
    seconds = time.perf_counter() - started
    _, errors = child.communicate(timeout=60)
    if not line:
        raise SystemExit(f"the app did not report its first screen:\n{errors}")
    report = json.loads(line)
    return seconds, report["cpu"], report["screen"], report["heavy"]


def summary(name: str, seconds: list[float], cpu: list[float]) -> str:
    median = statistics.median(seconds)
    verdict = "within" if median <= GOAL_SECONDS else "over"
    return (
        f"{name}: wall median {median:.3f} s, min {min(seconds):.3f} s, max {max(seconds):.3f} s; "
        f"CPU median {statistics.median(cpu):.3f} s; {len(seconds)} runs ({verdict} the {GOAL_SECONDS} s goal)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=10, help="measured runs of each (default: 10)")
    parser.add_argument("--no-app", action="store_true", help="time only --help, e.g. while the app is missing")
    args = parser.parse_args()

    console_script = Path(sys.executable).with_name("tunescope")
    executable = [str(console_script)] if console_script.exists() else [shutil.which("tunescope") or "tunescope"]
    os.environ.setdefault("TERM", "dumb")

    for line in describe_machine():
        print(line)

    time_help(executable)
    runs = [time_help(executable) for _ in range(args.repeats)]
    print(summary(f"{' '.join(executable)} --help", [run[0] for run in runs], [run[1] for run in runs]))
    print(f"  modules imported by --help among {', '.join(HEAVY_MODULES)}: {', '.join(heavy_after_help()) or 'none'}")

    if args.no_app:
        return 0
    time_first_screen()
    screens = [time_first_screen() for _ in range(args.repeats)]
    print(summary("app first screen (App.run_test, headless)", [run[0] for run in screens], [run[1] for run in screens]))
    print(f"  screen: {screens[-1][2]}; modules imported among {', '.join(HEAVY_MODULES)}: {', '.join(screens[-1][3]) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
