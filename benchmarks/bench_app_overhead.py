"""Compare the same study run through the Textual app and through `--no-tui`.

Run from the repository root:

    .venv/bin/python benchmarks/bench_app_overhead.py
    .venv/bin/python benchmarks/bench_app_overhead.py --repeats 3 --trials 8 --epochs 4
    .venv/bin/python benchmarks/bench_app_overhead.py --terminal --size 160x50

Either way both modes run the same study, alternating which goes first in
each repeat. The goal is an app / no-tui ratio of at most 1.02x.

By default both modes run in this one process, after one warm-up fit:

- no-tui: `tunescope run CONFIG --no-tui --out DIR` through the command
  line's `main`, with its plain-line output sent to a temporary file;
- app: `TunescopeApp(CONFIG, start=True)` driven headless by Textual's
  `App.run_test`, which starts the study from the setup screen and shows it
  on the run screen until it finishes. The screen is rendered but not
  written to a terminal, so a real terminal's drawing cost is not included.
  The driver only sleeps while it waits, because each `Pilot.pause` would
  make the app process its queue and redraw, which a real session does not do.

Each mode's time is the sum of its tuners' search times from the run's
journal, its whole-study time, and the CPU time (all threads) of this
process and of the study's child process while the mode ran, which
includes drawing the app's screens and grows far less than wall time when
other processes compete for the cores. The ratio
app / no-tui of each is printed per repeat and as the median.

For the app, the CPU time of its own thread (the event loop that handles
the study's messages and draws the screen) while the study runs is printed
too: it is the app's cost with the noise of training taken out.

With `--terminal`, each mode runs as a fresh `tunescope` process instead,
which is closer to what a person runs:

- no-tui: `tunescope run CONFIG --no-tui --out DIR`, its output sent to a
  file;
- app: `tunescope run CONFIG --out DIR` in a pseudo-terminal of `--size`
  (80x24 by default), which opens the app and starts the study. This
  script reads everything the app writes, as a terminal would, and types
  nothing until the run's journal records the study's end. It then sends
  ctrl+q, which closes the app without a question once the study has
  ended. If the quit dialog appears anyway, it sends ctrl+q again a
  second later and counts the dialogs.

The times again come from the journal. They leave out the start-up that each
process pays (importing TensorFlow, loading the data), but in this mode the
app's time includes writing its frames to a real terminal. The CPU time is
the child's user plus system time, which includes that start-up, so it is
printed as a ratio and as the app's extra seconds. The bytes the app wrote
to the terminal are printed too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

from _machine import describe_machine
from _pty import CTRL_Q, read_output, screen_text, spawn_on_terminal, terminal_environment
from _spaces import SPACES

from tunescope.core.events import StudyFinished, TunerFinished
from tunescope.core.store import read_journal
from tunescope.tui.settings import AppSettings, default_study_factory

GOAL_RATIO = 1.02
DEFAULT_TERMINAL_SIZE = (80, 24)

# How often the journal is checked for the study's end, and the maximum time
# the app may then take to close. The study itself gets far longer than the few
# minutes a default one takes, so that only a hung child reaches the limit.
_JOURNAL_POLL_SECONDS = 0.5
_QUIT_TIMEOUT_SECONDS = 60.0
# The app reads its study's journal every 0.2 s, so this leaves it time to see the end.
_APP_FOLLOW_SECONDS = 0.5
_QUIT_RETRY_SECONDS = 1.0
_STUDY_TIMEOUT_SECONDS = 3600.0
_QUIT_DIALOG_TITLE = "Quit tunescope?"
# The end of a child's output kept for error messages.
_TAIL_BYTES = 16384


def write_config(folder: Path, trials: int, epochs: int, output: Path) -> Path:
    text = textwrap.dedent(
        f"""
        [experiment]
        name = "app-overhead"
        seed = 42
        output = "{output.as_posix()}"
        [dataset]
        name = "digits"
        [model]
        family = "dnn"
        [budget]
        max_trials = {trials}
        epochs = {epochs}
        batch_size = 32
        [[tuners]]
        type = "random"
        [[tuners]]
        type = "bayesian"
        num_initial_points = 3
        """
    ) + textwrap.dedent(SPACES["dnn"])
    path = folder / "app-overhead.toml"
    path.write_text(text, encoding="utf-8")
    return path


def journal_times(run_dir: Path) -> tuple[float, float]:
    """Return (sum of the tuners' search seconds, whole-study seconds) from a run's journal."""
    events = read_journal(run_dir / "journal.jsonl")
    search = sum(event.search_seconds for event in events if isinstance(event, TunerFinished))
    study = [event.seconds for event in events if isinstance(event, StudyFinished)]
    if not study:
        raise SystemExit(f"{run_dir}: the study did not finish; see its journal")
    return search, study[-1]


def run_no_tui(config: Path, out: Path, log: Path) -> tuple[float, float, float]:
    from tunescope.tui.cli import main

    cpu_started = time.process_time()
    with open(log, "a", encoding="utf-8") as handle, contextlib.redirect_stdout(handle):
        status = main(["run", str(config), "--no-tui", "--out", str(out)])
    cpu = time.process_time() - cpu_started
    if status != 0:
        raise SystemExit(f"tunescope run --no-tui exited with {status}; see {log}")
    return (*journal_times(out), cpu)


def app_settings(study_thread: bool) -> AppSettings:
    """Return the app's settings: its study in a child process, or with `study_thread` on a thread of the app."""
    return AppSettings(study_factory=default_study_factory) if study_thread else AppSettings()


def run_app(config: Path, study_thread: bool) -> tuple[float, float, float, float]:
    """Return the app's (search seconds, study seconds, process CPU seconds, app thread CPU seconds)."""
    from tunescope.tui.app import TunescopeApp

    async def drive() -> tuple[Path, float]:
        app = TunescopeApp(config, start=True, settings=app_settings(study_thread))
        async with app.run_test(size=(160, 50)) as pilot:
            while app.settings.study is None:
                await asyncio.sleep(0.1)
            handle = app.settings.study
            # run_test runs the app on this thread, so this is the app's own CPU time.
            thread_started = time.thread_time()
            while not handle.finished.is_set():
                await asyncio.sleep(0.5)
            thread_cpu = time.thread_time() - thread_started
            await pilot.pause()
            return handle.run_dir.path, thread_cpu

    # The study's child process counts once the app has waited for it.
    cpu_started = time.process_time() + children_cpu_seconds()
    run_dir, thread_cpu = asyncio.run(drive())
    cpu = time.process_time() + children_cpu_seconds() - cpu_started
    return (*journal_times(run_dir), cpu, thread_cpu)


def warm_up() -> None:
    from tunescope.core.config import DatasetConfig, ModelConfig
    from tunescope.core.data import load_dataset
    from tunescope.core.models import build_model
    from tunescope.core.study import import_tensorflow

    import_tensorflow()
    dataset = load_dataset(DatasetConfig(name="digits"))
    model = build_model({}, ModelConfig(family="dnn"), dataset.input_shape, dataset.num_classes)
    model.fit(dataset.x_train, dataset.y_train, epochs=1, verbose=0)


# Starts the command line with the study on a thread of the app, as
# tunescope ran it before the study moved to a child process.
STUDY_THREAD_LAUNCHER = """
import functools, sys
import tunescope.tui.app as app
from tunescope.tui.settings import default_study_factory
app.AppSettings = functools.partial(app.AppSettings, study_factory=default_study_factory)
from tunescope.tui.cli import main
sys.exit(main(sys.argv[1:]))
"""


def tunescope_command() -> list[str]:
    """Return the command that starts `tunescope`: this environment's console script where there is one."""
    console_script = Path(sys.executable).with_name("tunescope")
    return [str(console_script)] if console_script.exists() else ["tunescope"]


def children_cpu_seconds() -> float:
    """Return the user plus system CPU time of this process's children that have been waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_no_tui_process(command: list[str], config: Path, out: Path, log: Path) -> tuple[float, float, float]:
    """Run `tunescope run --no-tui` as a child and return its (search seconds, study seconds, CPU seconds)."""
    cpu_started = children_cpu_seconds()
    with open(log, "wb") as handle:
        status = subprocess.run(
            [*command, "run", str(config), "--no-tui", "--out", str(out)],
            stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT, cwd=out.parent,
        ).returncode
    cpu = children_cpu_seconds() - cpu_started
    if status != 0:
        tail = log.read_bytes()[-_TAIL_BYTES:].decode("utf-8", "replace")
        raise SystemExit(f"tunescope run --no-tui exited with status {status}. Its output ended with:\n{tail}")
    return (*journal_times(out), cpu)


@dataclass
class TerminalRun:
    """The app's measurements from one study in a pseudo-terminal."""

    search_seconds: float
    study_seconds: float
    cpu_seconds: float
    output_bytes: int
    # ctrl+q presses after the study's end that opened the app's quit dialog.
    quit_dialogs: int


class _JournalWatcher:
    """Check a journal that another process appends to for the end of its study."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._size = -1

    def study_finished(self) -> bool:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return False
        # The journal only grows, so it is parsed again only after it has grown.
        if size == self._size:
            return False
        self._size = size
        return any(isinstance(event, StudyFinished) for event in read_journal(self.path))


class _QuitPresses:
    """Send ctrl+q to the app until it closes, counting the quit dialogs it opens."""

    def __init__(self, primary: int) -> None:
        self.primary = primary
        self.first_press_at: float | None = None
        self.dialogs = 0
        self._since_press = bytearray()
        self._retry_at: float | None = None

    def press(self, now: float) -> None:
        os.write(self.primary, CTRL_Q)
        self._since_press.clear()
        if self.first_press_at is None:
            self.first_press_at = now

    def follow(self, chunk: bytes, now: float) -> None:
        """Look for the quit dialog in the app's latest output and press ctrl+q again a second after it appears."""
        self._since_press.extend(chunk)
        del self._since_press[:-_TAIL_BYTES]
        if self._retry_at is None and _QUIT_DIALOG_TITLE in screen_text(bytes(self._since_press)):
            # The dialog is drawn again whenever the run screen below it
            # changes, so it is counted once per press.
            self.dialogs += 1
            self._retry_at = now + _QUIT_RETRY_SECONDS
        if self._retry_at is not None and now >= self._retry_at:
            # ctrl+q is bound with priority, so it reaches the app over the
            # dialog and closes it once the study has ended.
            self.press(now)
            self._retry_at = None


def run_app_on_terminal(command: list[str], config: Path, out: Path, size: tuple[int, int]) -> TerminalRun:
    """Run `tunescope run CONFIG` in a pseudo-terminal of `size` (columns, lines) and close it after the study."""
    columns, lines = size
    cpu_started = children_cpu_seconds()
    child, primary = spawn_on_terminal(
        [*command, "run", str(config), "--out", str(out)],
        columns=columns, lines=lines, cwd=out.parent, env=terminal_environment(columns, lines),
    )
    watcher = _JournalWatcher(out / "journal.jsonl")
    quit_presses = _QuitPresses(primary)
    tail = bytearray()
    written = 0
    next_poll = 0.0
    finished_at: float | None = None
    deadline = time.monotonic() + _STUDY_TIMEOUT_SECONDS

    try:
        while True:
            # Reading all the time, even when nothing is checked, because the
            # app blocks once the terminal's buffer is full.
            chunk = read_output(primary, _JOURNAL_POLL_SECONDS)
            if chunk is None:
                break
            written += len(chunk)
            tail.extend(chunk)
            del tail[:-_TAIL_BYTES]
            now = time.monotonic()

            if quit_presses.first_press_at is None:
                if finished_at is None and now >= next_poll:
                    next_poll = now + _JOURNAL_POLL_SECONDS
                    if watcher.study_finished():
                        finished_at = now
                # The app quits without a question once it has read the
                # study's end from the journal, so a dialog then is a regression.
                if finished_at is not None and now >= finished_at + _APP_FOLLOW_SECONDS:
                    quit_presses.press(now)
            else:
                quit_presses.follow(chunk, now)
                if now - quit_presses.first_press_at > _QUIT_TIMEOUT_SECONDS:
                    raise SystemExit(
                        f"the app did not close within {_QUIT_TIMEOUT_SECONDS:.0f} s of ctrl+q. "
                        f"Its output ended with:\n{screen_text(bytes(tail))[-2000:]}"
                    )

            if now > deadline:
                raise SystemExit(
                    f"the study did not finish within {_STUDY_TIMEOUT_SECONDS:.0f} s. "
                    f"The app's output ended with:\n{screen_text(bytes(tail))[-2000:]}"
                )
        status = child.wait(timeout=_QUIT_TIMEOUT_SECONDS)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        os.close(primary)
    cpu = children_cpu_seconds() - cpu_started

    if quit_presses.first_press_at is None:
        raise SystemExit(
            f"the app exited with status {status} before the study finished. "
            f"Its output ended with:\n{screen_text(bytes(tail))[-2000:]}"
        )
    if status != 0:
        raise SystemExit(
            f"the app exited with status {status} after ctrl+q. Its output ended with:\n{screen_text(bytes(tail))[-2000:]}"
        )
    return TerminalRun(*journal_times(out), cpu, written, quit_presses.dialogs)


def parse_size(text: str) -> tuple[int, int]:
    columns, separator, lines = text.lower().partition("x")
    if not separator or not columns.isdigit() or not lines.isdigit() or int(columns) < 1 or int(lines) < 1:
        raise argparse.ArgumentTypeError(f"invalid size {text!r}; expected COLSxROWS, for example 160x50")
    return int(columns), int(lines)


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"invalid count {text!r}; expected a whole number of 1 or more")
    return int(text)


def median_interval(ratios: list[float], resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Return a 95% bootstrap interval of the median of `ratios`.

    With the few repeats a benchmark can afford it is rough, but it shows
    whether the spread of the repeats leaves the goal in reach.
    """
    generator = random.Random(seed)
    medians = sorted(statistics.median(generator.choices(ratios, k=len(ratios))) for _ in range(resamples))
    return medians[int(0.025 * resamples)], medians[int(0.975 * resamples) - 1]


def print_search_ratios(ratios: list[float]) -> None:
    """Print the repeats' search-time ratios, their median and its bootstrap interval."""
    low, high = median_interval(ratios)
    listed = ", ".join(f"{ratio:.3f}" for ratio in sorted(ratios))
    print(
        f"search time app / no-tui: median {statistics.median(ratios):.3f}x, "
        f"95% interval of the median {low:.3f}x to {high:.3f}x (goal <= {GOAL_RATIO}x); repeats sorted: {listed}"
    )


def compare_in_process(root: Path, config: Path, repeats: int, study_thread: bool) -> None:
    rows = []
    for repeat in range(repeats):
        out = root / f"no-tui-{repeat}"
        log = root / "no-tui.log"
        started = time.perf_counter()
        if repeat % 2 == 0:
            headless = run_no_tui(config, out, log)
            app = run_app(config, study_thread)
        else:
            app = run_app(config, study_thread)
            headless = run_no_tui(config, out, log)
        rows.append((app, headless))
        print(
            f"repeat {repeat + 1} ({time.perf_counter() - started:.0f} s): "
            f"search app {app[0]:.2f} s, no-tui {headless[0]:.2f} s ({app[0] / headless[0]:.3f}x); "
            f"study app {app[1]:.2f} s, no-tui {headless[1]:.2f} s ({app[1] / headless[1]:.3f}x); "
            f"CPU app {app[2]:.1f} s, no-tui {headless[2]:.1f} s ({app[2] / headless[2]:.3f}x); "
            f"app thread CPU {app[3]:.2f} s ({100 * app[3] / app[1]:.1f}% of the study)"
        )

    print_search_ratios([app[0] / headless[0] for app, headless in rows])
    search_ratio = statistics.median(app[0] / headless[0] for app, headless in rows)
    study_ratio = statistics.median(app[1] / headless[1] for app, headless in rows)
    cpu_ratio = statistics.median(app[2] / headless[2] for app, headless in rows)
    thread_share = statistics.median(app[3] / app[1] for app, _ in rows)
    print(
        f"median app / no-tui: search {search_ratio:.3f}x, study {study_ratio:.3f}x, "
        f"CPU {cpu_ratio:.3f}x (goal <= {GOAL_RATIO}x); app thread CPU {100 * thread_share:.1f}% of the study"
    )


def compare_on_terminal(root: Path, config: Path, repeats: int, size: tuple[int, int], study_thread: bool) -> None:
    command = tunescope_command()
    app_command = [sys.executable, "-c", STUDY_THREAD_LAUNCHER] if study_thread else command
    rows: list[tuple[TerminalRun, tuple[float, float, float]]] = []
    for repeat in range(repeats):
        app_out = root / f"app-{repeat}"
        headless_out = root / f"no-tui-{repeat}"
        log = root / f"no-tui-{repeat}.log"
        started = time.perf_counter()
        if repeat % 2 == 0:
            headless = run_no_tui_process(command, config, headless_out, log)
            app = run_app_on_terminal(app_command, config, app_out, size)
        else:
            app = run_app_on_terminal(app_command, config, app_out, size)
            headless = run_no_tui_process(command, config, headless_out, log)
        rows.append((app, headless))
        print(
            f"repeat {repeat + 1} ({time.perf_counter() - started:.0f} s): "
            f"search app {app.search_seconds:.2f} s, no-tui {headless[0]:.2f} s ({app.search_seconds / headless[0]:.3f}x); "
            f"study app {app.study_seconds:.2f} s, no-tui {headless[1]:.2f} s ({app.study_seconds / headless[1]:.3f}x); "
            f"process CPU app {app.cpu_seconds:.1f} s, no-tui {headless[2]:.1f} s "
            f"({app.cpu_seconds / headless[2]:.3f}x, {app.cpu_seconds - headless[2]:+.1f} s); "
            f"app wrote {app.output_bytes / 1e6:.2f} MB to the terminal; quit dialogs {app.quit_dialogs}"
        )

    print_search_ratios([app.search_seconds / headless[0] for app, headless in rows])
    search_ratio = statistics.median(app.search_seconds / headless[0] for app, headless in rows)
    study_ratio = statistics.median(app.study_seconds / headless[1] for app, headless in rows)
    cpu_ratio = statistics.median(app.cpu_seconds / headless[2] for app, headless in rows)
    cpu_extra = statistics.median(app.cpu_seconds - headless[2] for app, headless in rows)
    dialogs = sum(app.quit_dialogs for app, _ in rows)
    print(
        f"median app / no-tui: search {search_ratio:.3f}x, study {study_ratio:.3f}x (goal <= {GOAL_RATIO}x), "
        f"process CPU {cpu_ratio:.3f}x ({cpu_extra:+.1f} s); quit dialogs in all repeats: {dialogs}"
    )
    if dialogs:
        print("the quit dialog opened although the journal had recorded the study's end, which the app should not do")


def add_study_arguments(parser: argparse.ArgumentParser, repeats: int) -> None:
    """Add the options that size the study and choose where the app runs it, shared with bench_app_paired.py."""
    parser.add_argument("--trials", type=positive_int, default=6, help="trials per tuner (default: 6)")
    parser.add_argument("--epochs", type=positive_int, default=4, help="epochs per trial (default: 4)")
    parser.add_argument("--repeats", type=positive_int, default=repeats, help=f"pairs of runs (default: {repeats})")
    parser.add_argument(
        "--study-thread", action="store_true",
        help="run the app's study on a thread of the app, as before it moved to a child process",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_study_arguments(parser, repeats=2)
    parser.add_argument(
        "--terminal", action="store_true",
        help="run each mode as a fresh tunescope process, the app in a pseudo-terminal",
    )
    parser.add_argument(
        "--size", type=parse_size, default=None, metavar="COLSxROWS",
        help="the pseudo-terminal's size with --terminal (default: 80x24)",
    )
    args = parser.parse_args()
    if args.size is not None and not args.terminal:
        parser.error("--size applies only with --terminal")

    logging.basicConfig(level=logging.WARNING)
    for line in describe_machine():
        print(line)
    print(f"study: digits, dnn, random and bayesian, {args.trials} trials x {args.epochs} epochs each, {args.repeats} repeats")
    if args.terminal:
        size = args.size or DEFAULT_TERMINAL_SIZE
        print(f"mode: a fresh process each, the app in a {size[0]}x{size[1]} pseudo-terminal")
    else:
        print("mode: both in this process, the app headless at 160x50")
        warm_up()
    print("the app's study: " + ("on a thread of the app (--study-thread)" if args.study_thread else "in a child process"))

    with tempfile.TemporaryDirectory(prefix="tunescope-app-overhead-") as folder:
        root = Path(folder)
        config = write_config(root, args.trials, args.epochs, root / "app-runs")
        if args.terminal:
            compare_on_terminal(root, config, args.repeats, size, args.study_thread)
        else:
            compare_in_process(root, config, args.repeats, args.study_thread)
    return 0


if __name__ == "__main__":
    sys.exit(main())
