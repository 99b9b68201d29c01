"""Compare the same study run through the Textual app and through `--no-tui`.

Run from the repository root:

    .venv/bin/python benchmarks/bench_app_overhead.py
    .venv/bin/python benchmarks/bench_app_overhead.py --repeats 3 --trials 8 --epochs 4

Both modes run in this one process, after one warm-up fit, alternating which
goes first in each repeat:

- no-tui: `tunescope run CONFIG --no-tui --out DIR` through the command
  line's `main`, with its plain-line output sent to a temporary file;
- app: `TunescopeApp(CONFIG, start=True)` driven headless by Textual's
  `App.run_test`, which starts the study from the setup screen and shows it
  on the run screen until it finishes. The screen is rendered but not
  written to a terminal, so a real terminal's drawing cost is not included.
  The driver only sleeps while it waits, because each `Pilot.pause` would
  make the app process its queue and redraw, which a real session does not do.

Each mode's time is the sum of its tuners' search times from the run's
journal, its whole-study time, and the process's CPU time (all threads)
while the mode ran, which includes drawing the app's screens and grows far
less than wall time when other processes compete for the cores. The ratio
app / no-tui of each is printed per repeat and as the median. The goal is at
most 1.02x.

For the app, the CPU time of its own thread (the event loop that handles
the study's messages and draws the screen) while the study runs is printed
too: it is the app's cost with the noise of training taken out.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from _machine import describe_machine
from _spaces import SPACES

from tunescope.core.events import StudyFinished, TunerFinished
from tunescope.core.store import read_journal

GOAL_RATIO = 1.02


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


def run_app(config: Path) -> tuple[float, float, float, float]:
    """Return the app's (search seconds, study seconds, process CPU seconds, app thread CPU seconds)."""
    from tunescope.tui.app import TunescopeApp

    async def drive() -> tuple[Path, float]:
        app = TunescopeApp(config, start=True)
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

    cpu_started = time.process_time()
    run_dir, thread_cpu = asyncio.run(drive())
    cpu = time.process_time() - cpu_started
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=6, help="trials per tuner (default: 6)")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per trial (default: 4)")
    parser.add_argument("--repeats", type=int, default=2, help="pairs of runs (default: 2)")
    args = parser.parse_args()

    logging.basicConfig(level=logging.WARNING)
    for line in describe_machine():
        print(line)
    print(f"study: digits, dnn, random and bayesian, {args.trials} trials x {args.epochs} epochs each, {args.repeats} repeats")
    warm_up()

    rows = []
    with tempfile.TemporaryDirectory(prefix="tunescope-app-overhead-") as folder:
        root = Path(folder)
        config = write_config(root, args.trials, args.epochs, root / "app-runs")
        for repeat in range(args.repeats):
            out = root / f"no-tui-{repeat}"
            log = root / "no-tui.log"
            started = time.perf_counter()
            if repeat % 2 == 0:
                headless = run_no_tui(config, out, log)
                app = run_app(config)
            else:
                app = run_app(config)
                headless = run_no_tui(config, out, log)
            rows.append((app, headless))
            print(
                f"repeat {repeat + 1} ({time.perf_counter() - started:.0f} s): "
                f"search app {app[0]:.2f} s, no-tui {headless[0]:.2f} s ({app[0] / headless[0]:.3f}x); "
                f"study app {app[1]:.2f} s, no-tui {headless[1]:.2f} s ({app[1] / headless[1]:.3f}x); "
                f"CPU app {app[2]:.1f} s, no-tui {headless[2]:.1f} s ({app[2] / headless[2]:.3f}x); "
                f"app thread CPU {app[3]:.2f} s ({100 * app[3] / app[1]:.1f}% of the study)"
            )

    search_ratio = statistics.median(app[0] / headless[0] for app, headless in rows)
    study_ratio = statistics.median(app[1] / headless[1] for app, headless in rows)
    cpu_ratio = statistics.median(app[2] / headless[2] for app, headless in rows)
    thread_share = statistics.median(app[3] / app[1] for app, _ in rows)
    print(
        f"median app / no-tui: search {search_ratio:.3f}x, study {study_ratio:.3f}x, "
        f"CPU {cpu_ratio:.3f}x (goal <= {GOAL_RATIO}x); app thread CPU {100 * thread_share:.1f}% of the study"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
