"""Repeat a study over several seeds and build a comparison table from the results.

The table has the layout of the results table in Awang Pon and Prakash,
"Hyperparameter Tuning of Deep learning Models in Keras" (STAIQC, 2021): the
measures accuracy, search time, cost and complexity (trainable parameters)
and explainability as rows, one column per model kind and tuner.

A bench directory contains one run directory per seed, each a complete run
that `tunescope report` reads, plus the bench's own reports::

    runs/bench-20261204-101500-quickstart/
        bench.json          experiment name, tuner order, seeds
        seed-42/            a run directory: config.toml, journal.jsonl, ...
        seed-43/
        seeds.csv           one row per seed and tuner
        bench.md            the comparison table and the paired tests

`Bench` runs the seeds through `Study`, so every number comes from the same
engine and journal as a single run. `collect_bench` rebuilds the per-seed
results from the journals alone (with `report.collect`), and `summarise`
turns them into mean and standard deviation, a paired test of each tuner
against the best one, and time-to-target. `study_table` lays summaries out
in that table's layout.

Fairness rules that the bench enforces or records:

- The data set is loaded and split once, with the experiment's own seed, and
  every seed's study trains on that same split. The seeds vary the oracles'
  sampling, weight initialisation and shuffling.
- Each seed runs the tuners in a rotated order (the i-th seed starts with
  tuner i mod k of k), so no tuner always runs first or last in a process.
- TensorFlow is warmed up with one short fit before the first seed, so the
  first tuner does not pay TensorFlow's first-use costs.
"""

from __future__ import annotations

import json
import logging
import math
import statistics
import textwrap
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from .config import Experiment, TunerConfig
from .data import Dataset, load_dataset
from .errors import RunDirError, TunescopeError
from .events import COMPLETED, FINISHED, EventSink, StudyFinished, TrialFinished, TunerStarted
from .explain import explainability_summary
from .report import (
    MARKDOWN_WIDTH,
    MISSING,
    collect,
    format_count,
    format_duration,
    format_metric,
    is_accuracy_metric,
    tuner_summaries,
    write_reports,
)
from .store import Journal, RunDir, create_run_dir, read_journal

logger = logging.getLogger(__name__)

MANIFEST_NAME = "bench.json"
SEEDS_CSV = "seeds.csv"
BENCH_MD = "bench.md"
SEED_DIR_PREFIX = "seed-"

# Paired tests `summarise` can run across seeds.
PAIRED_TESTS = ("t", "wilcoxon")


# -- records ---------------------------------------------------------------------


@dataclass(frozen=True)
class SeedResult:
    """One tuner's outcome in one seed's study.

    `progress` lists (seconds since the tuner started, objective) for each
    completed trial in the order the trials finished.
    """

    seed: int
    tuner: str
    tuner_type: str
    status: str
    best_objective: float | None = None
    test_accuracy: float | None = None
    search_seconds: float | None = None
    trainable_params: int | None = None
    trials_completed: int = 0
    trials_failed: int = 0
    explainability: str = MISSING
    progress: tuple[tuple[float, float], ...] = ()


@dataclass
class BenchResult:
    """Every seed's results for one experiment (one model kind)."""

    name: str
    model: str
    dataset: str
    objective: str
    direction: str
    tuners: list[str]
    seeds: list[int]
    results: list[SeedResult]
    device: str = ""

    def of(self, tuner: str) -> list[SeedResult]:
        """Return the results of `tuner`, in seed order."""
        return sorted((r for r in self.results if r.tuner == tuner), key=lambda r: r.seed)


@dataclass(frozen=True)
class Statistic:
    """Mean and sample standard deviation over `n` seeds; std is None below 2 values."""

    mean: float | None
    std: float | None
    n: int


@dataclass(frozen=True)
class PairedTest:
    """A tuner against the best tuner on one measure, paired by seed.

    `difference` is the mean of (this tuner - best tuner) over the `n` seeds
    where both have a value. `p_value` is two-sided, and None with fewer than
    2 pairs.
    """

    against: str
    method: str
    n: int
    difference: float | None
    p_value: float | None


@dataclass(frozen=True)
class Measure:
    """A numeric column of `SeedResult` that the table summarises."""

    key: str
    label: str
    higher_is_better: bool


@dataclass
class BenchSummary:
    """The statistics of one bench: per measure and tuner, and the paired tests."""

    result: BenchResult
    measures: list[Measure]
    statistics: dict[str, dict[str, Statistic]]
    best: dict[str, str | None]
    tests: dict[str, dict[str, PairedTest]]
    target: float | None = None
    time_to_target: dict[str, Statistic] = field(default_factory=dict)
    reached: dict[str, tuple[int, int]] = field(default_factory=dict)
    test_method: str = "t"


# -- running -----------------------------------------------------------------------


def with_budget(experiment: Experiment, max_trials: int | None = None, epochs: int | None = None) -> Experiment:
    """Return `experiment` with every tuner's trials and epochs set, where given."""
    tuners = []
    for tuner in experiment.tuners:
        changes: dict[str, Any] = {}
        if max_trials is not None:
            changes["max_trials"] = max_trials
        if epochs is not None:
            changes["epochs"] = epochs
        tuners.append(replace(tuner, **changes))
    return experiment.with_tuners(tuple(tuners))


def with_tuners(experiment: Experiment, names: Sequence[str]) -> Experiment:
    """Keep only the tuners named in `names`, in the experiment's order.

    Raises `TunescopeError` naming an unknown tuner and the known ones.
    """
    known = [tuner.name for tuner in experiment.tuners]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise TunescopeError(f"--tuners: unknown tuner {unknown[0]!r}; the experiment has {', '.join(known)}")
    return experiment.with_tuners(tuple(tuner for tuner in experiment.tuners if tuner.name in names))


def budget_notes(experiment: Experiment) -> list[str]:
    """Describe where the tuners' budgets differ, which makes their comparison unequal."""
    budgets = {(t.max_trials, t.epochs, t.executions_per_trial, t.batch_size) for t in experiment.tuners}
    notes = []
    if len(budgets) > 1:
        listed = ", ".join(
            f"{t.name}: {t.max_trials} trials x {t.epochs} epochs, batch {t.batch_size}" for t in experiment.tuners
        )
        notes.append(f"the tuners' budgets differ ({listed}); pass --trials and --epochs to make them equal")
    for tuner in experiment.tuners:
        per_round, rounds = tuner.settings.get("trials_per_round"), tuner.settings.get("rounds")
        if tuner.type == "aisara" and isinstance(rounds, int) and per_round is not None and per_round * rounds != tuner.max_trials:
            notes.append(
                f"{tuner.name} runs {per_round} trials x {rounds} rounds = {per_round * rounds} trials, capped at "
                f"max_trials {tuner.max_trials}; set trials_per_round x rounds to max_trials for an equal budget"
            )
    if any(t.type == "hyperband" for t in experiment.tuners):
        notes.append(
            "hyperband trains most of its trials for fewer than the budget's epochs, so it spends fewer epochs "
            "in all than the other tuners for the same number of trials"
        )
    return notes


def rotated_tuners(tuners: Sequence[TunerConfig], index: int) -> tuple[TunerConfig, ...]:
    """Return `tuners` rotated so that the seed at position `index` starts with tuner index mod k."""
    if not tuners:
        return ()
    shift = index % len(tuners)
    return (*tuners[shift:], *tuners[:shift])


def seed_dir_name(seed: int) -> str:
    return f"{SEED_DIR_PREFIX}{seed}"


def seed_config_text(experiment: Experiment, seed: int, tuners: Sequence[TunerConfig]) -> str:
    """Return the config.toml text of one seed's run: the experiment file with a header naming the overrides."""
    order = ", ".join(tuner.name for tuner in tuners)
    header = (
        f"# tunescope bench: this run used seed {seed} in place of experiment.seed, ran the tuners in the "
        f"order {order}, and trained on the data split of seed {experiment.seed}.\n"
    )
    return header + experiment.text


class Bench:
    """Run every tuner of an experiment once per seed, each seed in its own run directory.

    A seed whose run directory already contains a finished study with the same
    config text is kept, not run again, so an interrupted bench continues
    where it stopped when run again with the same arguments. `sinks` receive
    every seed's events; `on_seed(seed, run_dir)` is called before each seed
    that runs. `cancel()` stops after the current epoch, from any thread.
    """

    def __init__(
        self,
        experiment: Experiment,
        seeds: Sequence[int],
        bench_dir: Path,
        sinks: Sequence[EventSink] = (),
        dataset: Dataset | None = None,
        on_seed: Callable[[int, RunDir], Sequence[EventSink]] | None = None,
    ) -> None:
        if not seeds:
            raise TunescopeError("--seeds: no seeds to run; use 1 or more")
        self.experiment = experiment
        self.seeds = list(seeds)
        self.bench_dir = Path(bench_dir)
        self.sinks = list(sinks)
        self.dataset = dataset
        self.on_seed = on_seed
        self._cancel = threading.Event()
        self._study: Any = None
        self._lock = threading.Lock()

    def cancel(self) -> None:
        """Ask the running seed's study to stop after its current epoch, and run no further seed."""
        self._cancel.set()
        with self._lock:
            study = self._study
        if study is not None:
            study.cancel()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def run(self) -> BenchResult:
        """Run the seeds that have no finished run yet, then return every seed's results.

        Raises `RunDirError` when a seed's directory contains an unfinished or
        different run, and `TunescopeError` when the data cannot be loaded.
        """
        from .study import Study, import_tensorflow

        self.bench_dir.mkdir(parents=True, exist_ok=True)
        self._write_manifest()
        pending = [(index, seed) for index, seed in enumerate(self.seeds) if not self._finished(index, seed)]
        if pending:
            import_tensorflow()
            if self.dataset is None:
                self.dataset = load_dataset(self.experiment.dataset, seed=self.experiment.seed)
            _warm_up(self.experiment, self.dataset)

        for index, seed in pending:
            if self.cancelled:
                break
            tuners = rotated_tuners(self.experiment.tuners, index)
            text = seed_config_text(self.experiment, seed, tuners)
            experiment = replace(self.experiment, seed=seed, tuners=tuners, text=text)
            run_dir = create_run_dir(experiment.name, text, self.bench_dir, self.bench_dir / seed_dir_name(seed))
            extra = list(self.on_seed(seed, run_dir)) if self.on_seed else []
            journal = Journal(run_dir.journal)
            study = Study(experiment, run_dir, sinks=[journal, *self.sinks, *extra], dataset=self.dataset)
            with self._lock:
                self._study = study
            if self.cancelled:
                study.cancel()
            logger.info("bench seed %d (%d of %d) starting in %s", seed, index + 1, len(self.seeds), run_dir.path)
            started = time.perf_counter()
            try:
                study.run()
            finally:
                journal.close()
                with self._lock:
                    self._study = None
                write_reports(run_dir)
            logger.info("bench seed %d finished after %.1f s", seed, time.perf_counter() - started)
        return collect_bench(self.bench_dir, self.seeds)

    def _write_manifest(self) -> None:
        manifest = {
            "experiment": self.experiment.name,
            "tuners": [tuner.name for tuner in self.experiment.tuners],
            "seeds": self.seeds,
            "data_seed": self.experiment.seed,
        }
        path = self.bench_dir / MANIFEST_NAME
        if path.exists():
            try:
                previous = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                previous = None
            if previous is not None and previous.get("tuners") != manifest["tuners"]:
                raise RunDirError(
                    f"{self.bench_dir}: contains a bench of the tuners {previous.get('tuners')}, not "
                    f"{manifest['tuners']}; choose a new --out"
                )
            manifest["seeds"] = sorted(set(previous.get("seeds", [])) | set(self.seeds)) if previous else self.seeds
        path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")

    def _finished(self, index: int, seed: int) -> bool:
        """Return whether the seed's run directory contains this seed's finished study; raise if it contains anything else."""
        path = self.bench_dir / seed_dir_name(seed)
        if not path.exists() or (path.is_dir() and not any(path.iterdir())):
            return False
        text = seed_config_text(self.experiment, seed, rotated_tuners(self.experiment.tuners, index))
        run_dir = RunDir(path)
        try:
            same_config = run_dir.config.read_text(encoding="utf-8") == text
        except OSError:
            same_config = False
        if not same_config:
            raise RunDirError(
                f"{path}: contains a run of another experiment or budget; remove it or choose a new --out"
            )
        events = read_journal(run_dir.journal) if run_dir.journal.exists() else []
        ends = [event for event in events if isinstance(event, StudyFinished)]
        if not ends or ends[-1].status != FINISHED:
            raise RunDirError(f"{path}: contains an unfinished run of seed {seed}; remove it to run that seed again")
        logger.info("bench seed %d already finished in %s; keeping it", seed, path)
        return True


def _warm_up(experiment: Experiment, dataset: Dataset) -> None:
    """Fit the model once on a few samples so TensorFlow's first-use costs fall outside every search."""
    import keras

    from .models import build_model

    values: dict[str, Any] = {}
    for parameter in experiment.space:
        if parameter.default is not None:
            values[parameter.name] = parameter.default
        elif parameter.type == "choice":
            values[parameter.name] = parameter.values[0]
        elif parameter.type == "int":
            values[parameter.name] = int(parameter.min)
        else:
            values[parameter.name] = parameter.min
    count = min(len(dataset.x_train), 256)
    try:
        model = build_model(
            values,
            experiment.model,
            dataset.input_shape,
            dataset.num_classes,
            experiment.search_paths(),
            experiment.training,
        )
        model.fit(
            dataset.x_train[:count],
            dataset.y_train[:count],
            validation_data=(dataset.x_val[:count], dataset.y_val[:count]),
            epochs=1,
            batch_size=min(count, 32),
            verbose=0,
        )
    except Exception as error:  # the studies report a model that cannot train
        logger.warning("warm-up fit failed (%s: %s); the first tuner may pay TensorFlow's start-up", type(error).__name__, error)
    finally:
        keras.backend.clear_session()


# -- collecting ------------------------------------------------------------------


def collect_bench(bench_dir: Path, seeds: Sequence[int] | None = None) -> BenchResult:
    """Rebuild a bench's per-seed results from its seeds' journals.

    Reads the seeds in `seeds`, or every `seed-N` directory with a journal.
    The tuner order comes from bench.json, or else from the first seed's
    journal. Raises `RunDirError` when no seed has a journal.
    """
    bench_dir = Path(bench_dir)
    if seeds is None:
        seeds = sorted(
            int(path.name[len(SEED_DIR_PREFIX):])
            for path in bench_dir.glob(f"{SEED_DIR_PREFIX}*")
            if path.name[len(SEED_DIR_PREFIX):].lstrip("-").isdigit() and (path / "journal.jsonl").is_file()
        )
    journals = {seed: bench_dir / seed_dir_name(seed) / "journal.jsonl" for seed in seeds}
    journals = {seed: path for seed, path in journals.items() if path.is_file()}
    if not journals:
        raise RunDirError(f"{bench_dir}: contains no seed run with a journal; run `tunescope bench CONFIG --out {bench_dir}`")

    order: list[str] = []
    manifest = bench_dir / MANIFEST_NAME
    if manifest.is_file():
        try:
            order = list(json.loads(manifest.read_text(encoding="utf-8")).get("tuners", []))
        except (OSError, ValueError) as error:
            logger.warning("%s cannot be read (%s); taking the tuner order from the journals", manifest, error)

    results: list[SeedResult] = []
    first = None
    for seed, path in journals.items():
        report = collect(read_journal(path))
        if first is None:
            first = report
        for name in report.tuner_names():
            if name not in order:
                order.append(name)
        results.extend(seed_results(report, seed))

    assert first is not None
    study = first.study
    return BenchResult(
        name=study.study if study else bench_dir.name,
        model=study.model if study else "",
        dataset=study.dataset if study else "",
        objective=first.objective,
        direction=first.direction,
        tuners=order,
        seeds=list(journals),
        results=results,
        device=study.device if study else "",
    )


def seed_results(report: Any, seed: int) -> list[SeedResult]:
    """Turn one seed's `StudyReport` into a `SeedResult` per tuner that started."""
    started = {event.tuner: event for event in report.tuners}
    results = []
    for summary in tuner_summaries(report):
        if summary.name not in started:
            continue
        trials = [trial for trial in report.trials if trial.tuner == summary.name]
        results.append(
            SeedResult(
                seed=seed,
                tuner=summary.name,
                tuner_type=summary.type,
                status=summary.status,
                best_objective=summary.best_objective,
                test_accuracy=summary.test_accuracy,
                search_seconds=summary.search_seconds,
                trainable_params=summary.trainable_params,
                trials_completed=summary.trials_completed,
                trials_failed=summary.trials_failed,
                explainability=explainability_summary(summary.type, summary.has_rounds),
                progress=trial_progress(started[summary.name], trials),
            )
        )
    return results


def trial_progress(started: TunerStarted, trials: Iterable[TrialFinished]) -> tuple[tuple[float, float], ...]:
    """List (seconds since the tuner started, objective) per completed trial, in finishing order."""
    points = [
        (trial.time - started.time, float(trial.objective))
        for trial in trials
        if trial.status == COMPLETED and trial.objective is not None and math.isfinite(trial.objective)
    ]
    return tuple(sorted(points))


def time_to_target(progress: Sequence[tuple[float, float]], target: float, direction: str = "max") -> float | None:
    """Return the seconds until the first trial reached `target`, or None if none did.

    A trial counts when it finishes; with direction "max" it reaches the
    target at or above it, with "min" at or below it.
    """
    for seconds, objective in sorted(progress):
        if (objective >= target) if direction == "max" else (objective <= target):
            return seconds
    return None


# -- statistics ------------------------------------------------------------------


def describe(values: Iterable[float | None]) -> Statistic:
    """Return the mean and sample standard deviation (n - 1) of the values that are not None."""
    present = [float(value) for value in values if value is not None and not math.isnan(value)]
    if not present:
        return Statistic(None, None, 0)
    std = statistics.stdev(present) if len(present) > 1 else None
    return Statistic(statistics.fmean(present), std, len(present))


def paired_test(values: Mapping[int, float | None], best: Mapping[int, float | None], against: str, method: str = "t") -> PairedTest:
    """Test a tuner's per-seed values against the best tuner's, pairing them by seed.

    `method` "t" is the paired t-test (`scipy.stats.ttest_rel`), "wilcoxon"
    the Wilcoxon signed-rank test (`scipy.stats.wilcoxon`); both two-sided.
    Seeds where either value is missing are left out. When every difference
    is zero the p-value is 1, and when every difference has the same
    non-zero value the t-test has no p-value (None). With 5 pairs the
    Wilcoxon test cannot give a p-value below 0.0625, so the t-test is the
    default.
    """
    if method not in PAIRED_TESTS:
        raise ValueError(f"unknown paired test {method!r}; use one of {', '.join(PAIRED_TESTS)}")
    seeds = sorted(seed for seed in values if values[seed] is not None and best.get(seed) is not None)
    differences = [float(values[seed]) - float(best[seed]) for seed in seeds]  # type: ignore[arg-type]
    n = len(differences)
    difference = statistics.fmean(differences) if differences else None
    if n < 2:
        return PairedTest(against, method, n, difference, None)
    if all(value == 0 for value in differences):
        return PairedTest(against, method, n, difference, 1.0)
    if method == "t" and all(math.isclose(value, differences[0], rel_tol=1e-9, abs_tol=1e-12) for value in differences):
        # Equal non-zero differences have no variance, so t is infinite and
        # scipy's p of 0 would overstate what a few seeds show.
        return PairedTest(against, method, n, difference, None)

    from scipy import stats

    if method == "t":
        p_value = float(stats.ttest_rel([float(values[s]) for s in seeds], [float(best[s]) for s in seeds]).pvalue)  # type: ignore[arg-type]
    else:
        p_value = float(stats.wilcoxon(differences).pvalue)
    return PairedTest(against, method, n, difference, None if math.isnan(p_value) else p_value)


def measures_for(objective: str, direction: str) -> list[Measure]:
    """Return the summarised measures: best objective, test accuracy, search time, trainable parameters."""
    best_label = "accuracy (best validation)" if objective == "val_accuracy" else f"best {objective}"
    return [
        Measure("best_objective", best_label, direction == "max"),
        Measure("test_accuracy", "accuracy (test)", True),
        Measure("search_seconds", "search time", False),
        Measure("trainable_params", "cost and complexity (trainable parameters)", False),
    ]


def summarise(result: BenchResult, target: float | None = None, test: str = "t") -> BenchSummary:
    """Compute each measure's mean and std per tuner, the paired tests and time-to-target.

    Only finished tuner runs count, so a cancelled seed does not drag a mean
    down. The best tuner of a measure has the best mean; every other tuner
    is tested against it, paired by seed.
    """
    measures = measures_for(result.objective, result.direction)
    finished = {name: [r for r in result.of(name) if r.status == FINISHED] for name in result.tuners}

    stats_by_measure: dict[str, dict[str, Statistic]] = {}
    best: dict[str, str | None] = {}
    tests: dict[str, dict[str, PairedTest]] = {}
    for measure in measures:
        per_tuner = {name: describe(getattr(r, measure.key) for r in runs) for name, runs in finished.items()}
        stats_by_measure[measure.key] = per_tuner
        ranked = [(s.mean, name) for name, s in per_tuner.items() if s.mean is not None]
        if not ranked:
            best[measure.key] = None
            tests[measure.key] = {}
            continue
        pick = max if measure.higher_is_better else min
        leader = pick(ranked, key=lambda item: item[0])[1]
        best[measure.key] = leader
        leader_values = {r.seed: getattr(r, measure.key) for r in finished[leader]}
        tests[measure.key] = {
            name: paired_test({r.seed: getattr(r, measure.key) for r in runs}, leader_values, leader, test)
            for name, runs in finished.items()
            if name != leader
        }

    summary = BenchSummary(result, measures, stats_by_measure, best, tests, target=target, test_method=test)
    if target is not None:
        for name, runs in finished.items():
            seconds = [time_to_target(r.progress, target, result.direction) for r in runs]
            summary.time_to_target[name] = describe(seconds)
            summary.reached[name] = (sum(s is not None for s in seconds), len(runs))
    return summary


# -- tables ----------------------------------------------------------------------


def format_statistic(measure: str, metric: str, statistic: Statistic) -> str:
    """Format mean ± std for a measure: accuracies in percent, times as durations, counts with separators."""
    if statistic.mean is None:
        return MISSING
    mean, std = statistic.mean, statistic.std
    if measure in ("best_objective", "test_accuracy"):
        name = metric if measure == "best_objective" else "accuracy"
        if is_accuracy_metric(name):
            return f"{mean * 100:.2f} ± {std * 100:.2f}%" if std is not None else f"{mean * 100:.2f}%"
        return f"{mean:.4f} ± {std:.4f}" if std is not None else format_metric(name, mean)
    if measure in ("search_seconds", "time_to_target"):
        return f"{format_duration(mean)} ± {format_duration(std)}" if std is not None else format_duration(mean)
    return f"{format_count(round(mean))} ± {format_count(round(std))}" if std is not None else format_count(round(mean))


def format_difference(measure: str, metric: str, difference: float) -> str:
    """Format a paired difference: accuracy in percentage points, time in seconds, counts as signed integers."""
    name = metric if measure == "best_objective" else "accuracy"
    if measure in ("best_objective", "test_accuracy") and is_accuracy_metric(name):
        return f"{difference * 100:+.2f} pp"
    if measure in ("best_objective", "test_accuracy"):
        return f"{difference:+.4f}"
    if measure == "search_seconds":
        return f"{difference:+.1f} s"
    return f"{round(difference):+,}"


def format_test(measure: str, metric: str, test: PairedTest) -> str:
    """Format one paired test as 'difference, p = value, n = pairs'."""
    if test.difference is None:
        return f"no paired seeds (n = {test.n})"
    p_text = "p n/a" if test.p_value is None else f"p = {test.p_value:.3f}"
    return f"{format_difference(measure, metric, test.difference)}, {p_text}, n = {test.n}"


def column_name(kind: str, tuner: str) -> str:
    return f"{kind} {tuner}" if kind else tuner


def study_table(summaries: Sequence[tuple[str, BenchSummary]]) -> pd.DataFrame:
    """Lay out benches as the study's table: one row per measure, one column per model kind and tuner.

    Each `(kind, summary)` adds its tuners' columns, labelled "kind tuner".
    Cells give mean ± std over the seeds whose tuner run finished.
    """
    columns: list[str] = []
    cells: dict[str, dict[str, str]] = {}
    for kind, summary in summaries:
        result = summary.result
        for name in result.tuners:
            column = column_name(kind, name)
            columns.append(column)
            runs = result.of(name)
            finished = [r for r in runs if r.status == FINISHED]
            for measure in summary.measures:
                statistic = summary.statistics[measure.key][name]
                cells.setdefault(measure.label, {})[column] = format_statistic(measure.key, result.objective, statistic)
            for label in ("explainability", "time to target", "seeds finished", "trials completed / failed (all seeds)"):
                cells.setdefault(label, {})
            kinds = list(dict.fromkeys(r.explainability for r in finished)) or [MISSING]
            cells["explainability"][column] = "; ".join(kinds)
            cells["time to target"][column] = _time_to_target_cell(summary, name)
            cells["seeds finished"][column] = f"{len(finished)} / {len(runs)}"
            completed = sum(r.trials_completed for r in runs)
            failed = sum(r.trials_failed for r in runs)
            cells["trials completed / failed (all seeds)"][column] = f"{completed} / {failed}"

    if all(summary.target is None for _, summary in summaries):
        del cells["time to target"]
    rows = [[label, *(row.get(column, MISSING) for column in columns)] for label, row in cells.items()]
    return pd.DataFrame(rows, columns=["measure", *columns])


def _time_to_target_cell(summary: BenchSummary, name: str) -> str:
    if summary.target is None:
        return MISSING
    reached, total = summary.reached.get(name, (0, 0))
    statistic = summary.time_to_target.get(name, Statistic(None, None, 0))
    if reached == 0:
        return f"not reached (0 / {total})"
    return f"{format_statistic('time_to_target', '', statistic)} ({reached} / {total} reached)"


def paired_tests_table(summaries: Sequence[tuple[str, BenchSummary]]) -> pd.DataFrame:
    """Lay out the paired tests: one row per measure, one column per model kind and tuner.

    The best tuner of a measure (within its model kind) shows "best"; the
    others show their mean paired difference to it, the p-value and n.
    """
    columns: list[str] = []
    rows: dict[str, dict[str, str]] = {}
    for kind, summary in summaries:
        result = summary.result
        for measure in summary.measures:
            row = rows.setdefault(measure.label, {})
            for name in result.tuners:
                column = column_name(kind, name)
                if summary.best.get(measure.key) == name:
                    row[column] = "best"
                elif name in summary.tests.get(measure.key, {}):
                    row[column] = format_test(measure.key, result.objective, summary.tests[measure.key][name])
                else:
                    row[column] = MISSING
        columns.extend(column_name(kind, name) for name in result.tuners)
    return pd.DataFrame(
        [[label, *(row.get(column, MISSING) for column in columns)] for label, row in rows.items()],
        columns=["measure", *columns],
    )


def seeds_frame(result: BenchResult, target: float | None = None) -> pd.DataFrame:
    """Build the table of seeds.csv: one row per seed and tuner, in seed and tuner order."""
    rows = []
    for seed in result.seeds:
        for name in result.tuners:
            for run in (r for r in result.results if r.seed == seed and r.tuner == name):
                rows.append(
                    {
                        "seed": seed,
                        "tuner": name,
                        "type": run.tuner_type,
                        "status": run.status,
                        f"best_{result.objective}": run.best_objective,
                        "test_accuracy": run.test_accuracy,
                        "search_seconds": run.search_seconds,
                        "trainable_params": run.trainable_params,
                        "trials_completed": run.trials_completed,
                        "trials_failed": run.trials_failed,
                        "time_to_target": time_to_target(run.progress, target, result.direction) if target is not None else None,
                    }
                )
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame["trainable_params"] = frame["trainable_params"].astype("Int64")
    return frame


def bench_markdown(summary: BenchSummary, notes: Sequence[str] = ()) -> str:
    """Write bench.md: the settings, the study's table and the paired tests for one bench."""
    result = summary.result
    kind = result.model
    test_name = "paired t-test" if summary.test_method == "t" else "Wilcoxon signed-rank test"
    lines = [
        f"# tunescope bench: {result.name}",
        "",
        f"- data set: {result.dataset or MISSING}",
        f"- model family: {kind or MISSING}",
        f"- objective: {result.objective} ({result.direction})",
        f"- seeds: {', '.join(str(seed) for seed in result.seeds)}",
        f"- device: {result.device or MISSING}",
    ]
    if summary.target is not None:
        lines.append(f"- target: {result.objective} {'>=' if result.direction == 'max' else '<='} {summary.target:g}")
    lines.extend(f"- note: {note}" for note in notes)

    table = _markdown_table(study_table([(kind, summary)]))
    tests = _markdown_table(paired_tests_table([(kind, summary)]))

    legend = (
        "Cells give mean ± sample standard deviation over the seeds whose tuner run finished. "
        "Search time runs from a tuner's start until its best hyperparameters are known. "
        "Time to target counts from a tuner's start to the end of its first trial that reached the target, "
        "over the seeds that reached it."
    )
    tests_legend = (
        f"Each tuner against the best tuner of the measure, paired by seed ({test_name}, two-sided): "
        "the mean difference, the p-value and the number of paired seeds n."
    )

    sections = [
        "\n".join(lines),
        "## Comparison",
        table,
        textwrap.fill(legend, MARKDOWN_WIDTH),
        "## Paired tests",
        tests,
        textwrap.fill(tests_legend, MARKDOWN_WIDTH),
    ]
    return "\n\n".join(sections) + "\n"


def _markdown_table(table: pd.DataFrame) -> str:
    escaped = table.map(lambda cell: str(cell).replace("|", "\\|"))
    # disable_numparse keeps cells such as "93.41 ± 0.52%" as written.
    return escaped.to_markdown(index=False, disable_numparse=True)


def write_bench_reports(
    bench_dir: Path, result: BenchResult, target: float | None = None, test: str = "t", notes: Sequence[str] = ()
) -> list[Path]:
    """Write seeds.csv and bench.md into the bench directory and return their paths."""
    summary = summarise(result, target=target, test=test)
    written = []
    for name, text in (
        (SEEDS_CSV, seeds_frame(result, target).to_csv(index=False, lineterminator="\n")),
        (BENCH_MD, bench_markdown(summary, notes)),
    ):
        path = Path(bench_dir) / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    logger.info("wrote %s into %s", ", ".join(path.name for path in written), bench_dir)
    return written
