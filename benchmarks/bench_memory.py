"""Measure how resident memory grows over many small trials in one process.

Run from the repository root:

    .venv/bin/python benchmarks/bench_memory.py
    .venv/bin/python benchmarks/bench_memory.py --trials 100 --epochs 2

One process runs a `Study` with one random-search tuner of `--trials`
trials (digits, 300 training samples, a dense net of 1 to 3 layers), writing
its journal to a temporary run directory, as `tunescope run --no-tui` does.
Every `TrialFinished` event carries the process's resident set size after
the trial (`rss_mb`, from psutil), and the script prints:

- the resident memory after trials 1, 5, 10, 25 and the last;
- the growth from trial 1 to the last trial, and from trial 10 to the last
  (trial 1 still includes TensorFlow's first-use allocations);
- the largest rise over any 10 consecutive trials;
- whether `MemoryWatch`, the engine's growth warning, fired.

The goal is growth under 100 MB over 50 trials.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from _machine import describe_machine

from tunescope.core.config import parse_experiment
from tunescope.core.events import Event, TrialFinished
from tunescope.core.store import Journal, create_run_dir
from tunescope.core.study import Study, import_tensorflow


def experiment_text(trials: int, epochs: int) -> str:
    return textwrap.dedent(
        f"""
        [experiment]
        name = "memory"
        seed = 7
        [dataset]
        name = "digits"
        train_size = 300
        test_size = 100
        [model]
        family = "dnn"
        [budget]
        max_trials = {trials}
        epochs = {epochs}
        batch_size = 32
        [[space]]
        name = "num_layers"
        type = "int"
        min = 1
        max = 3
        [[space]]
        name = "nodes_dense"
        type = "int"
        min = 16
        max = 128
        step = 16
        [[space]]
        name = "learning_rate"
        type = "log"
        min = 1e-4
        max = 1e-2
        [[tuners]]
        type = "random"
        """
    )


class WarningCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "resident memory" in record.getMessage():
            self.messages.append(record.getMessage())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=50, help="trials in the one process (default 50)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs per trial (default 1)")
    args = parser.parse_args()

    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    for line in describe_machine():
        print(line)

    import_tensorflow()
    warnings = WarningCounter()
    logging.getLogger("tunescope.core.study").addHandler(warnings)
    rss: list[float] = []

    def record(event: Event) -> None:
        if isinstance(event, TrialFinished) and event.rss_mb is not None:
            rss.append(event.rss_mb)

    with tempfile.TemporaryDirectory() as folder:
        text = experiment_text(args.trials, args.epochs)
        experiment = parse_experiment(text, source="bench_memory.toml", base_dir=Path(folder))
        run_dir = create_run_dir("memory", text, Path(folder))
        journal = Journal(run_dir.journal)
        started = time.perf_counter()
        Study(experiment, run_dir, sinks=[journal, record]).run()
        journal.close()
        seconds = time.perf_counter() - started

    if len(rss) < 2:
        print("fewer than 2 trials reported their memory; is psutil installed?")
        return 1
    print(f"trials: {len(rss)} in {seconds:.0f} s")
    for number in (1, 5, 10, 25, len(rss)):
        if number <= len(rss):
            print(f"resident memory after trial {number}: {rss[number - 1]:.1f} MB")
    print(f"growth, trial 1 to {len(rss)}: {rss[-1] - rss[0]:+.1f} MB")
    if len(rss) >= 10:
        print(f"growth, trial 10 to {len(rss)}: {rss[-1] - rss[9]:+.1f} MB")
        print(f"largest rise over 10 consecutive trials: {max(rss[i + 9] - rss[i] for i in range(len(rss) - 9)):+.1f} MB")
    print(f"memory-growth warning: {'fired: ' + warnings.messages[0] if warnings.messages else 'not fired'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
