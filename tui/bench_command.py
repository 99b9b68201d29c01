"""The `tunescope bench CONFIG --seeds N` command: repeat a study and tabulate it.

`add_bench_parser` adds the command to the main parser's subcommands, and
`run_bench` runs it and returns the exit status. Every seed's study shows in
the headless view, live on a terminal and as plain lines otherwise. At the
end the comparison table and the paired tests are printed, and written with
seeds.csv into the bench directory.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from tunescope.core.errors import TunescopeError

from .worker import run_cancellable

logger = logging.getLogger("tunescope")

EXIT_OK = 0
EXIT_INTERRUPTED = 130

DEFAULT_SEEDS = 5


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer; use a whole number such as 5") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is too small; use 1 or more")
    return value


def _target(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; use an objective value such as 0.95") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number; use an objective value such as 0.95")
    return value


def _names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("no tuner names given; list them separated by commas, such as random,aisara")
    return names


def add_bench_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `bench` command to `subparsers` (from `ArgumentParser.add_subparsers`) and return its parser."""
    bench = subparsers.add_parser(
        "bench",
        help="run every tuner of CONFIG over several seeds and compare them with statistics",
        description="Run every tuner of CONFIG once per seed, each seed in its own run directory under one "
        "bench directory, and write the comparison table (mean ± std over the seeds), a paired test of "
        "each tuner against the best one, and time-to-target. Running the same command again with the same "
        "--out continues an interrupted bench.",
    )
    bench.add_argument("config", type=Path, metavar="CONFIG", help="experiment file (TOML)")
    bench.add_argument(
        "--seeds",
        type=_positive_int,
        default=DEFAULT_SEEDS,
        metavar="N",
        help=f"number of seeds: experiment.seed, experiment.seed + 1, ... (default: {DEFAULT_SEEDS})",
    )
    bench.add_argument(
        "--out",
        type=Path,
        metavar="PATH",
        help="bench directory (default: <experiment.output>/bench-<time>-<experiment name>); "
        "an existing one is continued",
    )
    bench.add_argument(
        "--target",
        type=_target,
        metavar="VALUE",
        help="objective value for time-to-target, such as 0.95 for val_accuracy (default: no time-to-target)",
    )
    bench.add_argument(
        "--test",
        choices=("t", "wilcoxon"),
        default="t",
        help="paired test across seeds: t (paired t-test) or wilcoxon (signed-rank; with 5 seeds its p-value "
        "cannot fall below 0.0625) (default: t)",
    )
    bench.add_argument("--tuners", type=_names, metavar="NAMES", help="comma-separated tuner names to run (default: all)")
    bench.add_argument("--trials", type=_positive_int, metavar="N", help="set every tuner's max_trials to N")
    bench.add_argument("--epochs", type=_positive_int, metavar="N", help="set every tuner's epochs to N")
    return bench


def run_bench(args: argparse.Namespace) -> int:
    """Run the bench that `args` describes and return the exit status.

    Input mistakes print one line on stderr and return 2.
    """
    try:
        return _run(args)
    except TunescopeError as error:
        print(f"tunescope: error: {error}", file=sys.stderr)
        return error.exit_status


def _run(args: argparse.Namespace) -> int:
    from tunescope.core.bench import Bench, budget_notes, collect_bench, with_budget, with_tuners, write_bench_reports
    from tunescope.core.config import load_experiment
    from tunescope.core.data import load_dataset
    from tunescope.core.study import check_model, import_tensorflow

    experiment = load_experiment(args.config)
    if args.tuners:
        experiment = with_tuners(experiment, args.tuners)
    experiment = with_budget(experiment, max_trials=args.trials, epochs=args.epochs)
    notes = budget_notes(experiment)
    # Seeds wrap within the loader's range (0 to 2**32 - 1) near its top.
    seeds = [(experiment.seed + offset) % 2**32 for offset in range(args.seeds)]
    bench_dir = args.out
    if bench_dir is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        bench_dir = experiment.output / f"bench-{stamp}-{experiment.name}"
    if bench_dir.exists() and not bench_dir.is_dir():
        raise TunescopeError(f"--out {bench_dir}: is a file; choose a directory path")

    views = _SeedViews()
    logger.addHandler(views.handler)
    try:
        for note in notes:
            logger.warning("%s", note)
        # Data and model are checked before anything is written.
        logger.info("loading data set %s", experiment.dataset.name)
        import_tensorflow()
        dataset = load_dataset(experiment.dataset, seed=experiment.seed)
        logger.info("%s", dataset.describe())
        check_model(experiment, dataset)

        logger.info("bench directory: %s (seeds %s)", bench_dir, ", ".join(str(seed) for seed in seeds))
        bench = Bench(experiment, seeds, bench_dir, dataset=dataset, on_seed=views.next_seed)
        failure = run_cancellable(bench, name="tunescope-bench")
        views.close()
        if failure is not None:
            raise failure

        result = collect_bench(bench_dir, seeds)
        written = write_bench_reports(bench_dir, result, target=args.target, test=args.test, notes=notes)
        print((bench_dir / "bench.md").read_text(encoding="utf-8"))
        print("Reports:")
        for path in written:
            print(f"  {path}")
    finally:
        views.close()
        logger.removeHandler(views.handler)
    return EXIT_INTERRUPTED if bench.cancelled else EXIT_OK


class _SeedViews:
    """One headless view per seed, so each seed's live table starts empty."""

    def __init__(self) -> None:
        from .headless import HeadlessView

        self._view_class = HeadlessView
        self.view: Any = None
        self.handler = _ForwardingHandler(self)
        self._fallback = logging.StreamHandler(sys.stderr)
        self._fallback.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S"))

    def next_seed(self, seed: int, run_dir: Any) -> Sequence[Any]:
        self.close()
        self.view = self._view_class()
        self.view.start()
        return [self.view]

    def close(self) -> None:
        if self.view is not None:
            self.view.stop()
            self.view = None

    def target_handler(self) -> logging.Handler:
        return self.view.logging_handler() if self.view is not None else self._fallback


class _ForwardingHandler(logging.Handler):
    """Sends log records to the current seed's view, or to stderr between seeds."""

    def __init__(self, views: _SeedViews) -> None:
        super().__init__()
        self.views = views
        self._handlers: dict[int, logging.Handler] = {}

    def emit(self, record: logging.LogRecord) -> None:
        view = self.views.view
        key = id(view)
        handler = self._handlers.get(key)
        if handler is None:
            handler = self.views.target_handler()
            self._handlers = {key: handler}
        handler.handle(record)

