"""Reports of a study, rebuilt from its journal's events alone.

`write_reports` writes three files into the run directory:

- ``trials.csv``: one row per trial, hyperparameters and metrics included;
- ``summary.csv``: one row per tuner with its best trial and measures;
- ``summary.md``: the comparison of the tuners on the four measures of the
  2021 study "Hyperparameter Tuning of Deep learning Models in Keras" (best
  accuracy, search time, trainable parameters of the best model,
  explainability). It also lists the best hyperparameters of each tuner and,
  for AiSara, the search-space bounds of each round.

Because only the journal is read, ``tunescope report RUN_DIR`` gives the same
files for a finished run, a cancelled one, or one whose process was killed.
"""

from __future__ import annotations

import logging
import math
import os
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .events import (
    CANCELLED,
    COMPLETED,
    FAILED,
    FINISHED,
    Event,
    RoundFinished,
    StudyFinished,
    StudyStarted,
    TrialFinished,
    TunerFinished,
    TunerStarted,
)
from .config import Objective, parse_experiment
from .errors import TunescopeError
from .explain import (
    EXPLAINABILITY_LEGEND,
    TunerExplanation,
    explain_tuner,
    explainability_summary,
    explanation_markdown,
)
from .space import SearchSpace
from .store import RunDir, read_journal

logger = logging.getLogger(__name__)

TRIALS_CSV = "trials.csv"
SUMMARY_CSV = "summary.csv"
SUMMARY_MD = "summary.md"

# Tuner statuses of the report, besides the engine's own (finished, stopped).
INCOMPLETE = "incomplete"
NOT_STARTED = "not started"

# Text of a cell that has no value, such as the test accuracy of a tuner that
# never finished.
MISSING = "n/a"

# Text of an explainability cell whose pictures are still being computed.
PENDING = "..."

# The Markdown report keeps its lines within this many columns where the
# content allows it, so that it reads in a terminal and in `git diff`.
MARKDOWN_WIDTH = 100

# Columns of trials.csv that do not depend on the search space or the metrics.
_TRIAL_COLUMNS_BEFORE = ("tuner", "trial_id", "number", "round", "status")
_TRIAL_COLUMNS_AFTER = ("fit_seconds", "trainable_params", "rss_mb", "reason")


@dataclass
class StudyReport:
    """The events of one study's journal, grouped for reporting.

    `results` has no entry for a tuner that never finished. `trials` keeps
    journal order, and a trial that was retried appears once, as its last
    `TrialFinished` event. `tuner_types` maps tuner names to the types the
    experiment file gives them, for tuners that never started and so have
    no `TunerStarted` event.
    """

    study: StudyStarted | None
    tuners: list[TunerStarted]
    results: dict[str, TunerFinished]
    trials: list[TrialFinished]
    rounds: list[RoundFinished]
    finished: StudyFinished | None
    last_event_time: float | None = None
    tuner_types: dict[str, str] = field(default_factory=dict)

    @property
    def objective(self) -> str:
        """The objective metric, or "objective" when the journal lacks the study's start."""
        return self.study.objective if self.study else "objective"

    @property
    def direction(self) -> str:
        """"max" or "min"; without the study's start, "min" for a loss and "max" otherwise."""
        if self.study:
            return self.study.direction
        return "min" if "loss" in self.objective else "max"

    def tuner_names(self) -> list[str]:
        """Return the study's tuner names: the planned order first, then any others that started."""
        names = list(self.study.tuners) if self.study else []
        for started in self.tuners:
            if started.tuner not in names:
                names.append(started.tuner)
        return names

    def hyperparameter_names(self) -> list[str]:
        """Return hyperparameter names in search-space order, then any others the trials used."""
        names = [item["name"] for item in self.study.space] if self.study else []
        for trial in self.trials:
            for name in trial.hyperparameters:
                if name not in names:
                    names.append(name)
        return names

    def hyperparameter_type(self, name: str) -> str | None:
        """Return the search-space type of hyperparameter `name` (int, float, log, choice), if known."""
        if self.study:
            for item in self.study.space:
                if item["name"] == name:
                    return item.get("type")
        return None

    def metric_names(self) -> list[str]:
        """Return every metric name the trials report, in the order they first appear."""
        names: list[str] = []
        for trial in self.trials:
            for name in trial.metrics:
                if name not in names:
                    names.append(name)
        return names


@dataclass
class TunerSummary:
    """One tuner's outcome as the reports show it."""

    name: str
    type: str
    status: str
    trials_completed: int = 0
    trials_failed: int = 0
    trials_cancelled: int = 0
    best: TrialFinished | None = None
    search_seconds: float | None = None
    test_accuracy: float | None = None
    test_loss: float | None = None
    trainable_params: int | None = None
    has_rounds: bool = False
    last_failure: TrialFinished | None = None
    end_reason: str = ""
    rounds: list[RoundFinished] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.status == FINISHED

    @property
    def best_objective(self) -> float | None:
        return self.best.objective if self.best else None

    @property
    def status_text(self) -> str:
        """The status for people: "finished", "not started", or "incomplete" with the engine's status."""
        if self.status in (FINISHED, INCOMPLETE, NOT_STARTED):
            return self.status
        return f"{INCOMPLETE} ({self.status})"


def collect(events: Iterable[Event], tuner_types: dict[str, str] | None = None) -> StudyReport:
    """Group a study's events for the reports.

    A second `StudyStarted`, `TunerStarted` or `TunerFinished` for the same
    study or tuner (a resumed run) replaces the first. `tuner_types` maps
    tuner names to their types in the experiment file (see `planned_tuner_types`).
    """
    study: StudyStarted | None = None
    tuners: dict[str, TunerStarted] = {}
    results: dict[str, TunerFinished] = {}
    trials: dict[tuple[str, str], TrialFinished] = {}
    rounds: list[RoundFinished] = []
    finished: StudyFinished | None = None
    last_time: float | None = None

    for event in events:
        last_time = event.time if last_time is None else max(last_time, event.time)
        if isinstance(event, StudyStarted):
            study = event
        elif isinstance(event, TunerStarted):
            tuners[event.tuner] = event
        elif isinstance(event, TrialFinished):
            # Removing the earlier attempt first puts the retried trial where
            # its last attempt finished, which keeps `trials` in journal order.
            key = (event.tuner, event.trial_id)
            trials.pop(key, None)
            trials[key] = event
        elif isinstance(event, RoundFinished):
            rounds.append(event)
        elif isinstance(event, TunerFinished):
            results[event.tuner] = event
        elif isinstance(event, StudyFinished):
            finished = event

    return StudyReport(
        study=study,
        tuners=list(tuners.values()),
        results=results,
        trials=list(trials.values()),
        rounds=rounds,
        finished=finished,
        last_event_time=last_time,
        tuner_types=dict(tuner_types or {}),
    )


def planned_tuner_types(run_dir: RunDir, study: StudyStarted | None) -> dict[str, str]:
    """Return the type of each tuner in the run's copy of its experiment file, by tuner name.

    The journal names a tuner's type only once it starts, so the types of
    tuners that never started come from the file. Returns an empty mapping,
    and logs why, when the file is missing or no longer valid (for example
    because its data file has moved).
    """
    try:
        text = run_dir.config.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        logger.warning("tuner types of tuners that never started are unknown: %s cannot be read (%s)", run_dir.config, error)
        return {}
    # Relative data paths resolve against the original file's folder, as
    # they do when the run is resumed.
    base_dir = Path(study.config_dir) if study is not None and study.config_dir else run_dir.path
    try:
        experiment = parse_experiment(text, source=str(run_dir.config), base_dir=base_dir)
    except TunescopeError as error:
        logger.warning("tuner types of tuners that never started are unknown: %s", error)
        return {}
    return {tuner.name: tuner.type for tuner in experiment.tuners}


def tuner_summaries(report: StudyReport) -> list[TunerSummary]:
    """Summarise each tuner of the study, in the study's tuner order."""
    started = {event.tuner: event for event in report.tuners}
    return [_summarise_tuner(report, name, started.get(name)) for name in report.tuner_names()]


def _summarise_tuner(report: StudyReport, name: str, started: TunerStarted | None) -> TunerSummary:
    result = report.results.get(name)
    trials = [trial for trial in report.trials if trial.tuner == name]
    rounds = [event for event in report.rounds if event.tuner == name]

    if result is not None:
        status = result.status
    elif started is not None:
        status = INCOMPLETE
    else:
        status = NOT_STARTED

    summary = TunerSummary(
        name=name,
        type=started.tuner_type if started else report.tuner_types.get(name, ""),
        status=status,
        trials_completed=sum(trial.status == COMPLETED for trial in trials),
        trials_failed=sum(trial.status == FAILED for trial in trials),
        trials_cancelled=sum(trial.status == CANCELLED for trial in trials),
        has_rounds=bool(rounds) or any(trial.round is not None for trial in trials),
        rounds=rounds,
    )
    summary.best = _best_trial(trials, report.direction, result.best_trial_id if result else None)
    failures = [trial for trial in trials if trial.status == FAILED]
    summary.last_failure = failures[-1] if failures else None

    if result is not None:
        summary.search_seconds = result.search_seconds
        summary.test_accuracy = result.test_accuracy
        summary.test_loss = result.test_loss
        summary.end_reason = result.reason
        _check_best(summary, result, report.objective)
    elif started is not None and trials:
        # Without the tuner's end, its search time runs until its last trial ended.
        summary.search_seconds = max(trial.time for trial in trials) - started.time

    if summary.best is not None:
        summary.trainable_params = summary.best.trainable_params
        if summary.trainable_params is None and result is not None and result.best_trial_id == summary.best.trial_id:
            summary.trainable_params = result.trainable_params
    return summary


def _best_trial(trials: list[TrialFinished], direction: str, preferred_id: str | None) -> TrialFinished | None:
    """Return the completed trial with the best objective.

    Among trials that tie on the objective, the one the engine named as best
    wins, and otherwise the earliest in the journal.
    """
    scored = [
        trial
        for trial in trials
        if trial.status == COMPLETED and trial.objective is not None and math.isfinite(trial.objective)
    ]
    if not scored:
        return None

    pick = max if direction == "max" else min
    best_value = pick(trial.objective for trial in scored)
    tied = [trial for trial in scored if trial.objective == best_value]
    for trial in tied:
        if trial.trial_id == preferred_id:
            return trial
    return tied[0]


def _check_best(summary: TunerSummary, result: TunerFinished, metric: str) -> None:
    # The reports take the best trial from the trials themselves, so that the
    # best objective always equals a trial's row. A disagreement with the
    # engine's own pick is worth a warning but changes nothing.
    if summary.best is None or result.best_trial_id in (None, summary.best.trial_id):
        return
    logger.warning(
        "tuner %s: the journal names trial %s as best, but trial %s has the best %s; reporting trial %s",
        summary.name,
        result.best_trial_id,
        summary.best.trial_id,
        metric,
        summary.best.trial_id,
    )


# -- tables --------------------------------------------------------------------


def trials_frame(report: StudyReport) -> pd.DataFrame:
    """Build the table of trials.csv: one row per trial, in journal order.

    Columns: tuner, trial_id, number, round, status, one column per
    hyperparameter in search-space order, epochs, objective, one column per
    metric, fit_seconds, trainable_params, rss_mb, reason. A hyperparameter
    whose name clashes with another column is written as ``hp_<name>``.
    """
    metrics = report.metric_names()
    reserved = set(_TRIAL_COLUMNS_BEFORE) | set(_TRIAL_COLUMNS_AFTER) | {"epochs", "objective"} | set(metrics)
    hp_columns = {name: (f"hp_{name}" if name in reserved else name) for name in report.hyperparameter_names()}
    columns = [
        *_TRIAL_COLUMNS_BEFORE,
        *hp_columns.values(),
        "epochs",
        "objective",
        *metrics,
        *_TRIAL_COLUMNS_AFTER,
    ]

    rows = []
    for trial in report.trials:
        row: dict[str, Any] = {
            "tuner": trial.tuner,
            "trial_id": trial.trial_id,
            "number": trial.number,
            "round": trial.round,
            "status": trial.status,
            "epochs": trial.epochs,
            "objective": trial.objective,
            "fit_seconds": trial.fit_seconds,
            "trainable_params": trial.trainable_params,
            "rss_mb": trial.rss_mb,
            "reason": trial.reason,
        }
        for name, column in hp_columns.items():
            row[column] = trial.hyperparameters.get(name)
        for name in metrics:
            row[name] = trial.metrics.get(name)
        rows.append(row)

    frame = pd.DataFrame(rows, columns=columns)
    for column in ("round", "trainable_params"):
        frame[column] = frame[column].astype("Int64")
    for column in ("objective", "fit_seconds", "rss_mb", *metrics):
        frame[column] = frame[column].astype("float64")
    for name, column in hp_columns.items():
        frame[column] = _typed_column(frame[column], report.hyperparameter_type(name))
    return frame


def summary_frame(report: StudyReport) -> pd.DataFrame:
    """Build the table of summary.csv: one row per tuner, in the study's tuner order.

    Columns: tuner, type, status, trials_completed, trials_failed,
    best_<objective metric>, test_accuracy, test_loss, search_seconds,
    trainable_params, best_trial_id, and hp_<name> per hyperparameter.
    """
    names = report.hyperparameter_names()
    best_column = f"best_{report.objective}"
    columns = [
        "tuner",
        "type",
        "status",
        "trials_completed",
        "trials_failed",
        best_column,
        "test_accuracy",
        "test_loss",
        "search_seconds",
        "trainable_params",
        "best_trial_id",
        *(f"hp_{name}" for name in names),
    ]

    rows = []
    for summary in tuner_summaries(report):
        best_hyperparameters = summary.best.hyperparameters if summary.best else {}
        row: dict[str, Any] = {
            "tuner": summary.name,
            "type": summary.type,
            "status": summary.status,
            "trials_completed": summary.trials_completed,
            "trials_failed": summary.trials_failed,
            best_column: summary.best_objective,
            "test_accuracy": summary.test_accuracy,
            "test_loss": summary.test_loss,
            "search_seconds": summary.search_seconds,
            "trainable_params": summary.trainable_params,
            "best_trial_id": summary.best.trial_id if summary.best else None,
        }
        for name in names:
            row[f"hp_{name}"] = best_hyperparameters.get(name)
        rows.append(row)

    frame = pd.DataFrame(rows, columns=columns)
    frame["trainable_params"] = frame["trainable_params"].astype("Int64")
    for column in (best_column, "test_accuracy", "test_loss", "search_seconds"):
        frame[column] = frame[column].astype("float64")
    for name in names:
        frame[f"hp_{name}"] = _typed_column(frame[f"hp_{name}"], report.hyperparameter_type(name))
    return frame


def _typed_column(column: pd.Series, hp_type: str | None) -> pd.Series:
    # Nullable dtypes keep an int hyperparameter written as "3", not "3.0",
    # in a column where a tuner that never finished leaves a gap.
    dtype = {"int": "Int64", "float": "Float64", "log": "Float64"}.get(hp_type or "")
    if dtype is None:
        return column.astype(object)
    try:
        return column.astype(dtype)
    except (TypeError, ValueError):
        logger.debug("hyperparameter column %s does not fit %s; written as given", column.name, dtype)
        return column.astype(object)


# -- comparison ----------------------------------------------------------------


def comparison_rows(
    report: StudyReport,
    explanations: Mapping[str, TunerExplanation] | None = None,
) -> list[tuple[str, dict[str, str]]]:
    """Build the comparison table as text cells: (measure, {tuner: cell}) per row.

    Rows: status, best objective, test accuracy, search time, trainable
    params, explainability, trials ok / failed. The Markdown report, the
    headless view and the app all render these rows. Cells are at most 12
    characters, except "no completed trial", so that four tuners fit 80
    columns. For that reason the status cell is the tuner's own status
    ("stopped", not "incomplete (stopped)"), and trials cancelled by a stop
    are counted in the notes of summary.md, not here.

    The explainability cell counts the pictures in `explanations` (see
    `explain_report`), which are computed when None is given. A tuner that
    started but is missing from a given mapping gets `PENDING`.
    """
    summaries = tuner_summaries(report)
    if explanations is None:
        explanations = explain_report(report)
    best_label = f"best {report.objective}"
    rows: list[tuple[str, dict[str, str]]] = [
        ("status", {}),
        (best_label, {}),
        ("test accuracy", {}),
        ("search time", {}),
        ("trainable params", {}),
        ("explainability", {}),
        ("trials ok / failed", {}),
    ]
    cells = dict(rows)

    for summary in summaries:
        name = summary.name
        cells["status"][name] = summary.status
        if summary.best is not None:
            cells[best_label][name] = format_metric(report.objective, summary.best_objective)
        elif summary.status == NOT_STARTED:
            cells[best_label][name] = MISSING
        else:
            cells[best_label][name] = "no completed trial"
        cells["test accuracy"][name] = format_metric("accuracy", summary.test_accuracy)
        cells["search time"][name] = format_duration(summary.search_seconds) if summary.search_seconds is not None else MISSING
        cells["trainable params"][name] = format_count(summary.trainable_params)
        cells["explainability"][name] = _explainability_cell(summary, explanations.get(name))
        cells["trials ok / failed"][name] = f"{summary.trials_completed} / {summary.trials_failed}"
    return rows


def explain_report(report: StudyReport) -> dict[str, TunerExplanation]:
    """Compute the explainability pictures of each tuner that started, by tuner name.

    Returns an empty mapping when the journal lacks the study's start, which
    contains the search space. Fitting importance imports scikit-learn, so this
    takes about a second the first time.
    """
    study = report.study
    if study is None:
        return {}
    space = SearchSpace.from_dicts(study.space)
    objective = Objective(study.objective, study.direction)
    started = {event.tuner for event in report.tuners} | {trial.tuner for trial in report.trials}
    return {
        name: explain_tuner(name, report.trials, report.rounds, space, objective)
        for name in report.tuner_names()
        if name in started
    }


def _explainability_cell(summary: TunerSummary, explanation: TunerExplanation | None) -> str:
    if summary.status == NOT_STARTED:
        return MISSING
    if explanation is None:
        return PENDING
    return explainability_summary(summary.type, summary.has_rounds, len(explanation.pictures))


def format_metric(metric: str, value: float | None) -> str:
    """Format a metric value: accuracies as percent with 2 decimals, others with 4 decimals."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if is_accuracy_metric(metric):
        return f"{value * 100:.2f}%"
    return f"{value:.4f}"


def is_accuracy_metric(metric: str) -> bool:
    """Return whether `metric` is an accuracy (a fraction shown as percent), such as val_accuracy or acc."""
    return metric.endswith("accuracy") or metric.endswith("acc")


def format_count(value: int | None) -> str:
    """Format a count with thousands separators, such as 143,905."""
    return MISSING if value is None else f"{value:,}"


def format_duration(seconds: float) -> str:
    """Format a duration as "8.2s", "3m 40s" or "1h 02m"; "n/a" for NaN.

    Under a minute it keeps tenths of a second, under an hour whole seconds,
    and above that whole minutes. A negative duration (clock change) shows as
    zero.
    """
    if math.isnan(seconds):
        return MISSING
    seconds = max(seconds, 0.0)
    if seconds < 59.95:
        return f"{seconds:.1f}s"

    whole_seconds = round(seconds)
    if whole_seconds < 3600:
        minutes, rest = divmod(whole_seconds, 60)
        return f"{minutes}m {rest:02d}s"

    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours}h {minutes:02d}m"


def format_value(value: Any) -> str:
    """Format a hyperparameter value: floats with 4 significant digits, others as given."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_trial(trial: TrialFinished) -> str:
    """Name a trial by its 1-based number, with its id when that differs, such as "3 (id 2)"."""
    if str(trial.number) == trial.trial_id:
        return trial.trial_id
    return f"{trial.number} (id {trial.trial_id})"


# -- Markdown ------------------------------------------------------------------


def summary_markdown(report: StudyReport) -> str:
    """Write summary.md: header, comparison table, best hyperparameters, rounds, notes."""
    summaries = tuner_summaries(report)
    explanations = explain_report(report)
    sections = [
        _header_markdown(report),
        _comparison_markdown(report, explanations),
        _best_hyperparameters_markdown(report, summaries),
        _rounds_markdown(report, summaries),
        _notes_markdown(summaries),
        _explanations_markdown(report, explanations),
        f"Every trial is in {TRIALS_CSV}, and one row per tuner in {SUMMARY_CSV}.",
    ]
    return "\n\n".join(section for section in sections if section) + "\n"


def _header_markdown(report: StudyReport) -> str:
    study = report.study
    if study is None:
        title = "# tunescope study"
        lines = ["- the journal has no study_started event, so the settings of the study are unknown"]
    else:
        title = f"# tunescope study: {study.study}"
        lines = [
            f"- data set: {study.dataset or MISSING}",
            f"- model family: {study.model or MISSING}",
            f"- objective: {study.objective} ({study.direction})",
            f"- seed: {study.seed}",
            f"- device: {study.device}",
        ]

    finished = report.finished
    if finished is not None:
        status = finished.status if not finished.reason else f"{finished.status} ({finished.reason})"
        lines.append(f"- run status: {status}")
        lines.append(f"- total time: {format_duration(finished.seconds)}")
    else:
        lines.append(f"- run status: {INCOMPLETE} (the journal has no study_finished event)")
        if study is not None and report.last_event_time is not None:
            elapsed = format_duration(report.last_event_time - study.time)
            lines.append(f"- total time: {elapsed} until the last event in the journal")
    wrapped = [_wrap_item(line) for line in lines]
    return title + "\n\n" + "\n".join(wrapped)


def _comparison_markdown(report: StudyReport, explanations: Mapping[str, TunerExplanation]) -> str:
    rows = comparison_rows(report, explanations)
    names = report.tuner_names()
    if not names:
        return "## Comparison\n\nNo tuner started."

    table = pd.DataFrame(
        [[measure, *(cells.get(name, MISSING) for name in names)] for measure, cells in rows],
        columns=["measure", *names],
    )
    legend = (
        "Search time is the wall-clock time from a tuner's start until its best hyperparameters "
        "are known. Test accuracy is the best model re-evaluated on the held-out test data. "
        "Trainable params count the weights of the best model that training updates. "
        "Trials ok / failed counts the completed and the failed trials. "
        + EXPLAINABILITY_LEGEND
    )
    return "## Comparison\n\n" + _markdown_tables(table) + "\n\n" + textwrap.fill(legend, MARKDOWN_WIDTH)


def _explanations_markdown(report: StudyReport, explanations: Mapping[str, TunerExplanation]) -> str:
    """Write one explainability section per tuner with trials: importance, heat map, curves, bounds."""
    study = report.study
    shown = [explanation for explanation in explanations.values() if explanation.n_trials]
    if study is None or not shown:
        return ""
    objective = Objective(study.objective, study.direction)
    sections = [explanation_markdown(explanation, objective, heading_level=3) for explanation in shown]
    return "## Explainability\n\n" + "\n\n".join(sections)


def _best_hyperparameters_markdown(report: StudyReport, summaries: list[TunerSummary]) -> str:
    started = [summary for summary in summaries if summary.status != NOT_STARTED]
    if not started:
        return ""

    rows = [["best trial", *(format_trial(summary.best) if summary.best else MISSING for summary in started)]]
    for name in report.hyperparameter_names():
        cells = []
        for summary in started:
            value = summary.best.hyperparameters.get(name) if summary.best else None
            cells.append(MISSING if value is None else format_value(value))
        rows.append([name, *cells])
    table = pd.DataFrame(rows, columns=["hyperparameter", *(summary.name for summary in started)])
    return "## Best hyperparameters\n\n" + _markdown_tables(table)


def _rounds_markdown(report: StudyReport, summaries: list[TunerSummary]) -> str:
    parts = []
    for summary in summaries:
        if not summary.rounds:
            continue
        names = [name for name in report.hyperparameter_names() if any(name in r.bounds for r in summary.rounds)]
        trials = {trial.trial_id: trial for trial in report.trials if trial.tuner == summary.name}
        rows = []
        for event in summary.rounds:
            bounds = [_format_bounds(event.bounds.get(name)) for name in names]
            best = trials.get(event.best_trial_id or "")
            best_text = format_trial(best) if best else event.best_trial_id or MISSING
            rows.append([str(event.round), *bounds, best_text])
        table = pd.DataFrame(rows, columns=["round", *names, "best trial"])
        parts.append(f"### {summary.name}\n\n" + _markdown_table(table))
    if not parts:
        return ""
    intro = "The search-space bounds that each round of a tuner sampled from."
    return "## Rounds\n\n" + intro + "\n\n" + "\n\n".join(parts)


def _notes_markdown(summaries: list[TunerSummary]) -> str:
    notes = []
    for summary in summaries:
        if summary.status == NOT_STARTED:
            notes.append(f"{summary.name}: not started.")
            continue
        if not summary.complete:
            if summary.status == INCOMPLETE:
                ended = "the journal ends before this tuner finished"
            else:
                ended = f"the tuner {summary.status}"
            reason = f" ({summary.end_reason})" if summary.end_reason else ""
            note = f"{summary.name}: {INCOMPLETE}, {ended}{reason}."
            count = summary.trials_completed
            if count:
                note += f" Its figures come from its {count} completed trial{'' if count == 1 else 's'}."
            cancelled = summary.trials_cancelled
            if cancelled:
                note += f" {cancelled} trial{' was' if cancelled == 1 else 's were'} cancelled."
            notes.append(note)
        if summary.best is None and summary.last_failure is not None:
            failure = summary.last_failure
            notes.append(
                f"{summary.name}: no completed trial. The last failure, in trial {format_trial(failure)}: "
                f"{_first_line(failure.reason) or 'no reason recorded'}"
            )
    if not notes:
        return ""
    return "## Notes\n\n" + "\n".join(_wrap_item(note) for note in notes)


def _markdown_tables(table: pd.DataFrame) -> str:
    """Write `table` as Markdown tables of at most `MARKDOWN_WIDTH` columns.

    The first column (the row labels) repeats in every table, and the other
    columns (one per tuner) fill each table in order until the next would make
    it too wide. A single column too wide on its own still gets a table.
    """
    label, *others = table.columns
    groups: list[list[str]] = []
    for column in others:
        if groups and _table_width(table[[label, *groups[-1], column]]) <= MARKDOWN_WIDTH:
            groups[-1].append(column)
        else:
            groups.append([column])
    if not groups:
        return _markdown_table(table)
    return "\n\n".join(_markdown_table(table[[label, *group]]) for group in groups)


def _table_width(table: pd.DataFrame) -> int:
    return max(len(line) for line in _markdown_table(table).splitlines())


def _markdown_table(table: pd.DataFrame) -> str:
    escaped = table.map(lambda cell: str(cell).replace("|", "\\|"))
    escaped.columns = [str(column).replace("|", "\\|") for column in table.columns]
    # disable_numparse keeps "1,234" and "93.38%" as written instead of re-aligning them as numbers.
    return escaped.to_markdown(index=False, disable_numparse=True)


def _format_bounds(bounds: list[float] | None) -> str:
    if not bounds:
        return MISSING
    low, high = bounds
    return f"[{format_value(low)}, {format_value(high)}]"


def _wrap_item(text: str) -> str:
    if not text.startswith("- "):
        text = "- " + text
    return textwrap.fill(text, MARKDOWN_WIDTH, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False)


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else ""


# -- files ---------------------------------------------------------------------


def write_reports(run_dir: RunDir, events: Iterable[Event] | None = None) -> list[Path]:
    """Write trials.csv, summary.csv and summary.md into the run directory.

    Reads the run's journal when `events` is None. Each file is written to a
    temporary name and then renamed, so a reader never sees half a report.
    Returns the paths written. Raises `RunDirError` when the journal cannot
    be read, and `OSError` when a report cannot be written.
    """
    if events is None:
        events = read_journal(run_dir.journal)
    report = collect(events)
    started = {event.tuner for event in report.tuners}
    if any(name not in started for name in report.tuner_names()):
        report.tuner_types = planned_tuner_types(run_dir, report.study)

    contents = {
        TRIALS_CSV: trials_frame(report).to_csv(index=False, lineterminator="\n"),
        SUMMARY_CSV: summary_frame(report).to_csv(index=False, lineterminator="\n"),
        SUMMARY_MD: summary_markdown(report),
    }
    written = []
    for name, text in contents.items():
        path = run_dir.report(name)
        _write_atomically(path, text)
        written.append(path)
    logger.info("wrote %s into %s", ", ".join(contents), run_dir.path)
    return written


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
    os.replace(temporary, path)
