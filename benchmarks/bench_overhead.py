"""Measure tunescope's engine overhead against plain `model.fit` calls.

Run from the repository root:

    .venv/bin/python benchmarks/bench_overhead.py
    .venv/bin/python benchmarks/bench_overhead.py --trials 20 --epochs 6 --repeats 3
    .venv/bin/python benchmarks/bench_overhead.py --profile /tmp/engine.prof
    .venv/bin/python benchmarks/bench_overhead.py --trials 6 --repeats 1 --jit-compile

One process loads the digits data once, warms TensorFlow up with one
throw-away fit, and then, `--repeats` times, runs two passes in alternating
order (engine first in the first repeat, whose trials the plain passes
reuse, then plain first, and so on):

- engine: a `Study` with one random-search tuner of `--trials` trials, its
  journal written to a temporary run directory, as `tunescope run --no-tui`
  runs it minus the terminal view;
- plain: for the same hyperparameter values, in the same order, build the
  model with the same model family and time `model.fit` on the same training
  and validation arrays with the same epochs and batch size. The engine
  reads those arrays through its `tf.data` pipelines, while the plain loop
  passes the NumPy arrays to `model.fit`.

It prints three ratios per repeat:

- search / plain fit: the tuner's search time (what the study's table
  reports: from the tuner's start until its best hyperparameters are known,
  so model building, callbacks, oracle, checkpoints and journal included)
  divided by the sum of the plain `model.fit` wall times;
- search / plain build+fit: the same, with the plain loop's model building
  and compiling added to the divisor, since a hand-written loop pays it too;
- search / engine fit: the search time divided by the engine's own
  `model.fit` times from the same run, which shows the share of time spent
  outside training regardless of machine load;
- CPU search / plain build+fit: the process's CPU time (all threads) from
  the tuner's start to its last trial's end, divided by the CPU time of the
  plain loop. CPU time grows far less than wall time when other processes
  compete for the cores.

`--mixed-precision` and `--jit-compile` set the experiment's `[training]`
table, and the plain loop builds its models with the same settings.

The best test-set evaluation and model saving after the search are not part
of the search time and are reported separately. Wall times on a machine shared
with other work vary with its load, which the header records.
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import pstats
import statistics
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

from _machine import describe_machine
from _spaces import SPACES

from tunescope.core.config import Experiment, parse_experiment
from tunescope.core.data import Dataset, load_dataset
from tunescope.core.events import COMPLETED, Event, TrialFinished, TunerStarted
from tunescope.core.store import Journal, create_run_dir, read_journal
from tunescope.core.study import Study, import_tensorflow



def build_experiment(
    family: str,
    trials: int,
    epochs: int,
    batch_size: int,
    seed: int,
    mixed_precision: bool = False,
    jit_compile: bool = False,
) -> Experiment:
    """Build the benchmark experiment: digits, one random-search tuner."""
    text = textwrap.dedent(
        f"""
        [experiment]
        name = "overhead"
        seed = {seed}
        [dataset]
        name = "digits"
        [model]
        family = "{family}"
        [budget]
        max_trials = {trials}
        epochs = {epochs}
        batch_size = {batch_size}
        [training]
        mixed_precision = {str(mixed_precision).lower()}
        jit_compile = {str(jit_compile).lower()}
        [[tuners]]
        type = "random"
        """
    ) + textwrap.dedent(SPACES[family])
    return parse_experiment(text, source="bench_overhead")


@dataclass
class EnginePass:
    search_seconds: float
    study_seconds: float
    fit_seconds: float
    search_cpu: float
    trials: list[TrialFinished]


@dataclass
class PlainPass:
    fit_seconds: float
    build_seconds: float
    cpu: float


class _CpuClock:
    """An event sink that reads the process's CPU time at the tuner's start and at each trial's end."""

    def __init__(self) -> None:
        self.started: float | None = None
        self.last_trial: float | None = None

    def __call__(self, event: Event) -> None:
        if isinstance(event, TunerStarted):
            self.started = time.process_time()
        elif isinstance(event, TrialFinished):
            self.last_trial = time.process_time()


def run_engine(experiment: Experiment, dataset: Dataset, workdir: Path, profile: Path | None) -> EnginePass:
    """Run the study once and read its trials back from the journal."""
    run_dir = create_run_dir(experiment.name, experiment.text, workdir)
    journal = Journal(run_dir.journal)
    clock = _CpuClock()
    study = Study(experiment, run_dir, sinks=[journal, clock], dataset=dataset)

    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    results = study.run()
    if profiler:
        profiler.disable()
    study_seconds = time.perf_counter() - started
    journal.close()
    if profiler:
        profiler.dump_stats(profile)

    trials = [event for event in read_journal(run_dir.journal) if isinstance(event, TrialFinished)]
    failed = [trial for trial in trials if trial.status != COMPLETED]
    if failed:
        raise SystemExit(f"{len(failed)} trials failed, e.g. {failed[0].reason}; the ratio needs completed trials")
    return EnginePass(
        search_seconds=results[0].search_seconds,
        study_seconds=study_seconds,
        fit_seconds=sum(trial.fit_seconds for trial in trials),
        search_cpu=(clock.last_trial or 0.0) - (clock.started or 0.0),
        trials=trials,
    )


def run_plain(experiment: Experiment, dataset: Dataset, trials: list[TrialFinished]) -> PlainPass:
    """Build and fit each trial's model in a plain loop, timing build and fit apart."""
    import keras

    from tunescope.core.models import build_model, fit_options

    tuner = experiment.tuners[0]
    keras.utils.set_random_seed(experiment.seed)
    fit_seconds = build_seconds = 0.0
    cpu_started = time.process_time()
    for trial in trials:
        started = time.perf_counter()
        model = build_model(
            trial.hyperparameters,
            experiment.model,
            dataset.input_shape,
            dataset.num_classes,
            training=experiment.training,
        )
        built = time.perf_counter()
        model.fit(
            dataset.x_train,
            dataset.y_train,
            validation_data=(dataset.x_val, dataset.y_val),
            epochs=tuner.epochs,
            verbose=0,
            **fit_options(trial.hyperparameters, tuner.batch_size),
        )
        build_seconds += built - started
        fit_seconds += time.perf_counter() - built
    return PlainPass(fit_seconds=fit_seconds, build_seconds=build_seconds, cpu=time.process_time() - cpu_started)


def warm_up(experiment: Experiment, dataset: Dataset) -> None:
    """Fit one small model for one epoch so that neither pass pays TensorFlow's first-use costs."""
    from tunescope.core.models import build_model

    values = {parameter.name: parameter.min for parameter in experiment.space}
    model = build_model(values, experiment.model, dataset.input_shape, dataset.num_classes, training=experiment.training)
    model.fit(dataset.x_train, dataset.y_train, validation_data=(dataset.x_val, dataset.y_val), epochs=1, verbose=0)


def print_profile(path: Path, limit: int) -> None:
    stats = pstats.Stats(str(path))
    stats.sort_stats("cumulative").print_stats(limit)
    stats.sort_stats("tottime").print_stats(limit)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=sorted(SPACES), default="dnn", help="model family (default: dnn)")
    parser.add_argument("--trials", type=int, default=20, help="trials of the random search (default: 20)")
    parser.add_argument("--epochs", type=int, default=6, help="epochs per trial (default: 6)")
    parser.add_argument("--batch-size", type=int, default=32, help="batch size (default: 32)")
    parser.add_argument("--repeats", type=int, default=2, help="engine and plain passes to alternate (default: 2)")
    parser.add_argument("--seed", type=int, default=42, help="experiment seed (default: 42)")
    parser.add_argument("--mixed-precision", action="store_true", help="set training.mixed_precision = true")
    parser.add_argument("--jit-compile", action="store_true", help="set training.jit_compile = true (XLA)")
    parser.add_argument("--profile", type=Path, help="after the timed repeats, profile one more engine pass with cProfile, write the profile to this file and print its top entries")
    args = parser.parse_args()

    logging.basicConfig(level=logging.WARNING)
    experiment = build_experiment(
        args.model, args.trials, args.epochs, args.batch_size, args.seed, args.mixed_precision, args.jit_compile
    )
    for line in describe_machine():
        print(line)
    print(
        f"experiment: digits, {args.model}, random search, {args.trials} trials x {args.epochs} epochs, "
        f"batch size {args.batch_size}, {args.repeats} repeats, "
        f"mixed precision {'on' if args.mixed_precision else 'off'}, XLA {'on' if args.jit_compile else 'off'}"
    )

    import_tensorflow()
    dataset = load_dataset(experiment.dataset, seed=experiment.seed)
    print(f"data: {dataset.describe()}")
    warm_up(experiment, dataset)

    rows = []
    with tempfile.TemporaryDirectory(prefix="tunescope-overhead-") as workdir:
        reference: list[TrialFinished] | None = None
        for repeat in range(args.repeats):
            if reference is not None and repeat % 2 == 1:
                plain = run_plain(experiment, dataset, reference)
                engine = run_engine(experiment, dataset, Path(workdir), None)
            else:
                engine = run_engine(experiment, dataset, Path(workdir), None)
                plain = run_plain(experiment, dataset, engine.trials)
            reference = engine.trials
            rows.append((engine, plain))
            print(
                f"repeat {repeat + 1}: search {engine.search_seconds:.2f} s (whole study {engine.study_seconds:.2f} s), "
                f"engine fit {engine.fit_seconds:.2f} s, plain fit {plain.fit_seconds:.2f} s, "
                f"plain build {plain.build_seconds:.2f} s | "
                f"search/plain fit {engine.search_seconds / plain.fit_seconds:.3f}x, "
                f"search/plain build+fit {engine.search_seconds / (plain.fit_seconds + plain.build_seconds):.3f}x, "
                f"search/engine fit {engine.search_seconds / engine.fit_seconds:.3f}x | "
                f"CPU: search {engine.search_cpu:.1f} s, plain build+fit {plain.cpu:.1f} s, "
                f"{engine.search_cpu / plain.cpu:.3f}x"
            )

    def median(values: list[float]) -> float:
        return statistics.median(values)

    print(
        "median: "
        f"search/plain fit {median([e.search_seconds / p.fit_seconds for e, p in rows]):.3f}x, "
        f"search/plain build+fit {median([e.search_seconds / (p.fit_seconds + p.build_seconds) for e, p in rows]):.3f}x, "
        f"search/engine fit {median([e.search_seconds / e.fit_seconds for e, _ in rows]):.3f}x, "
        f"CPU search/plain build+fit {median([e.search_cpu / p.cpu for e, p in rows]):.3f}x, "
        f"after-search evaluation and saving {median([e.study_seconds - e.search_seconds for e, _ in rows]):.2f} s"
    )
    if args.profile:
        # A profiled pass runs slower, so it comes after the timed repeats.
        with tempfile.TemporaryDirectory(prefix="tunescope-overhead-") as workdir:
            run_engine(experiment, dataset, Path(workdir), args.profile)
        print_profile(args.profile, 30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
