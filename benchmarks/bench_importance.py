"""Time hyperparameter importance and objective grids on synthetic trials.

Run from the repository root:

    .venv/bin/python benchmarks/bench_importance.py
    .venv/bin/python benchmarks/bench_importance.py --trials 200 --repeats 50

Each line gives the median wall time and the median CPU time (all threads of
the process) of one call over `--repeats` calls, after one warm-up call that
also pays for importing scikit-learn. On a machine shared with other work,
the wall time grows with the load and the CPU time much less.

The trials are random draws over four hyperparameters: the number of layers,
units and learning rate tuned in Awang Pon and Prakash, "Hyperparameter
Tuning of Deep learning Models in Keras" (STAIQC, 2021), plus an activation
choice. The objective depends mainly on the learning rate.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import statistics
import time
from collections.abc import Callable

import sklearn

from tunescope.core.config import Objective
from tunescope.core.events import COMPLETED, TrialFinished
from tunescope.core.explain import compute_importance, objective_grid, smoothed_grid
from tunescope.core.space import HyperParameter, SearchSpace

SPACE = SearchSpace(
    (
        HyperParameter("num_layers", "int", 2, 10),
        HyperParameter("nodes_dense", "int", 64, 512),
        HyperParameter("learning_rate", "log", 1e-4, 1e-2),
        HyperParameter("activation", "choice", values=("relu", "tanh", "sigmoid")),
    )
)
OBJECTIVE = Objective("val_accuracy", "max")


def synthetic_trials(n: int, seed: int = 0) -> list[TrialFinished]:
    rng = random.Random(seed)
    trials = []
    for number in range(1, n + 1):
        hps = {p.name: p.from_unit(rng.random()) for p in SPACE}
        accuracy = 0.9 - 0.1 * (math.log10(hps["learning_rate"]) + 3) ** 2 - 0.002 * hps["num_layers"]
        trials.append(
            TrialFinished(
                tuner="random",
                trial_id=str(number),
                number=number,
                status=COMPLETED,
                hyperparameters=hps,
                objective=accuracy + 0.01 * rng.random(),
                time=1000.0 + number,
            )
        )
    return trials


def time_call(call: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Return the median wall time and median CPU time of `repeats` calls, in milliseconds."""
    call()
    wall, cpu = [], []
    for _ in range(repeats):
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        call()
        wall.append((time.perf_counter() - wall_start) * 1000)
        cpu.append((time.process_time() - cpu_start) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--trials", type=int, nargs="+", default=[50, 200, 500], help="trial counts to time (default: 50 200 500)"
    )
    parser.add_argument("--repeats", type=int, default=30, help="timed calls per measurement (default: 30)")
    args = parser.parse_args()

    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    versions = f"python {platform.python_version()}, scikit-learn {sklearn.__version__}"
    print(f"{versions}, {os.cpu_count()} CPUs, load average {load}")
    for n in args.trials:
        trials = synthetic_trials(n)
        measurements = {
            "compute_importance": lambda: compute_importance(trials, SPACE, OBJECTIVE),
            "objective_grid": lambda: objective_grid(trials, SPACE, "learning_rate", "nodes_dense", OBJECTIVE),
            "smoothed_grid": lambda: smoothed_grid(trials, SPACE, "learning_rate", "nodes_dense", OBJECTIVE),
        }
        for name, call in measurements.items():
            wall, cpu = time_call(call, args.repeats)
            timing = f"median wall {wall:7.1f} ms, median CPU {cpu:7.1f} ms"
            print(f"{name:<18} {n:>4} trials: {timing} ({args.repeats} calls)")


if __name__ == "__main__":
    main()
