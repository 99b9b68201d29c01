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
- first screen: the app, opened with no arguments in a pseudo-terminal of
  80x24 as a person would open it, from process start until the terminal has
  received the setup screen's status line and footer. Textual writes a
  frame only once its layout and rendering are done, so this is the moment
  the first screen is on the terminal, not merely mounted. The CPU time is
  the child's user plus system time read from /proc/PID/stat at that moment
  (Linux only; elsewhere it is left out), and includes Textual's threads.

Both children also report which of TensorFlow, Keras, Keras Tuner, pandas,
scikit-learn, SciPy and NumPy they imported. The app child reports it after
it has been closed with ctrl+q. None of them should be imported before a
study starts. NumPy alone took about 0.1 s of CPU of the app's start-up on
a 2-core AMD EPYC. The goal is at most 0.5 s each.
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
import tempfile
import time
from pathlib import Path

from _machine import describe_machine
from _pty import CTRL_Q, drain_until_exit, read_output, screen_text, spawn_on_terminal, terminal_environment

GOAL_SECONDS = 0.5
HEAVY_MODULES = ("tensorflow", "keras", "keras_tuner", "pandas", "sklearn", "scipy", "numpy")

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

# Opens the app as the console script does, then, once the app has closed,
# writes the heavy modules it imported to the file named by argv[1].
_APP_CHILD = """
import json, sys
from tunescope.tui.cli import main
status = main([])
with open(sys.argv[1], "w") as report:
    json.dump({"status": status, "heavy": [m for m in %r if m in sys.modules]}, report)
""" % (HEAVY_MODULES,)

# The setup screen's status line with the default form, and its footer.
_FIRST_SCREEN_MARKERS = ("ready:", "Quit")
_TIMEOUT_SECONDS = 60.0


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


def time_first_screen() -> tuple[float, float | None, list[str]]:
    """Open the app in an 80x24 pseudo-terminal; return wall and CPU seconds to its first screen, and its heavy modules."""
    env = terminal_environment(80, 24)
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as folder:
        report_path = Path(folder) / "report.json"
        started = time.perf_counter()
        child, master = spawn_on_terminal(
            [sys.executable, "-c", _APP_CHILD, str(report_path)], columns=80, lines=24, cwd=Path(folder), env=env
        )
        try:
            output = _read_until_first_screen(master, child)
            seconds = time.perf_counter() - started
            cpu = _cpu_seconds(child.pid)
            os.write(master, CTRL_Q)
            drain_until_exit(master, child, _TIMEOUT_SECONDS)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            os.close(master)
        if not report_path.is_file():
            raise SystemExit(f"the app exited with status {child.returncode} without its report; it wrote:\n{screen_text(output)[-2000:]}")
        report = json.loads(report_path.read_text(encoding="utf-8"))
    return seconds, cpu, report["heavy"]


def _read_until_first_screen(master: int, child: subprocess.Popen[bytes]) -> bytes:
    output = bytearray()
    deadline = time.monotonic() + _TIMEOUT_SECONDS
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise SystemExit(f"no first screen after {_TIMEOUT_SECONDS:.0f} s; the app wrote:\n{screen_text(output)[-2000:]}")
        chunk = read_output(master, remaining)
        if chunk is None:
            raise SystemExit(f"the app exited (status {child.wait()}) before its first screen; it wrote:\n{screen_text(output)[-2000:]}")
        output.extend(chunk)
        text = screen_text(bytes(output))
        if all(marker in text for marker in _FIRST_SCREEN_MARKERS):
            return bytes(output)


def _cpu_seconds(pid: int) -> float | None:
    """Return the user plus system CPU time of process `pid` so far, or None where /proc is missing."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            # Fields 14 and 15 (utime, stime), counted after the command name,
            # which is in brackets and may itself contain spaces.
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summary(name: str, seconds: list[float], cpu: list[float | None]) -> str:
    median = statistics.median(seconds)
    verdict = "within" if median <= GOAL_SECONDS else "over"
    known = [value for value in cpu if value is not None]
    cpu_text = f"CPU median {statistics.median(known):.3f} s" if known else "CPU not measured"
    return (
        f"{name}: wall median {median:.3f} s, min {min(seconds):.3f} s, max {max(seconds):.3f} s; "
        f"{cpu_text}; {len(seconds)} runs ({verdict} the {GOAL_SECONDS} s goal)"
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
    print(summary("app first screen (80x24 pseudo-terminal)", [run[0] for run in screens], [run[1] for run in screens]))
    heavy = sorted({module for run in screens for module in run[2]})
    print(f"  modules imported by the app among {', '.join(HEAVY_MODULES)}: {', '.join(heavy) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
