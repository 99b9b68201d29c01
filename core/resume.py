"""Resume a run whose process ended before its study finished.

`plan_resume` reads a run directory's journal and its copy of the experiment
file, and plans the next process. The plan lists the tuners it skips, each
tuner's trial budget, where trial numbering continues, how much search time
each tuner already spent, and how often each unfinished trial was
interrupted. It raises `RunDirError` or `ConfigError` before anything is
written, so a rejected resume leaves the run directory as it was.

Each resumed tuner rebuilds its `keras_tuner.Tuner` on the existing project
folder, which makes Keras Tuner reload the oracle and the trials from their
JSON files. `TunerResume.restore` then repairs what that reload gets wrong
(keras-tuner 1.4.8) and writes the trial rows the journal lacks:

- A trial that was running is put back in the oracle's retry queue, and Keras
  Tuner runs it again first. Its partial metrics are cleared, because Keras
  Tuner would average them with the new attempt's. After
  `MAX_INTERRUPTED_RETRIES` retries it is given up as failed instead.
- A trial whose end was saved to its trial file, but not to the oracle's
  state, is ended from that file rather than trained again.
- A trial file that the oracle's state never recorded (the process died
  between the two writes of `Oracle.create_trial`) is dropped.
- The grid oracle keeps its walk over the grid in attributes that its saved
  state leaves out, so after a reload it would stop early. They are rebuilt
  from the trials.
- An AiSara round whose trials all ended before the process died is
  concluded, and a `RoundFinished` event already in the journal is not
  written twice.

This module imports Keras Tuner only inside `TunerResume.restore`.
"""

from __future__ import annotations

import functools
import json
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .config import Experiment, parse_experiment
from .errors import ConfigError, RunDirError
from .events import (
    CANCELLED,
    FINISHED,
    EpochEnded,
    EpochStarted,
    Event,
    RoundFinished,
    StudyFinished,
    StudyStarted,
    TrialFinished,
    TrialStarted,
    TunerFinished,
    TunerStarted,
)
from .store import RunDir, open_run_dir, read_journal

logger = logging.getLogger(__name__)

# Times a trial that was running when the process died is run again. One more
# interruption gives it up as failed, so a trial that kills its process (say,
# by exhausting host memory) cannot stop a run from ever finishing.
MAX_INTERRUPTED_RETRIES = 2

_TUNER_EVENTS = (TunerStarted, TrialStarted, EpochStarted, EpochEnded, TrialFinished, RoundFinished, TunerFinished)


@dataclass
class TunerResume:
    """The state a resumed tuner takes over from the earlier processes of its run.

    `numbers` maps trial ids to their `TrialStarted.number`. `ended` contains
    the ids of trials with a completed or failed row in the journal.
    `interruptions` counts, per unfinished trial, the processes that ended
    while it ran. `previous_search_seconds` is the search time the tuner
    already spent, and `journaled_rounds` are the AiSara rounds already
    reported.
    """

    name: str
    numbers: dict[str, int] = field(default_factory=dict)
    ended: set[str] = field(default_factory=set)
    interruptions: dict[str, int] = field(default_factory=dict)
    previous_search_seconds: float = 0.0
    journaled_rounds: set[int] = field(default_factory=set)

    def restore(self, search: Any) -> None:
        """Repair the state that `search` (a `StudyTuner`) reloaded, and write missing trial rows.

        Call it after the tuner is built on the existing project and before
        `search.search`. It may raise Keras Tuner's RuntimeError for too
        many consecutive failed trials when it gives a trial up.
        """
        oracle = search.oracle
        # Keras Tuner's progress display would print (and clear the
        # terminal) when a trial ends here. It also fails on a trial that
        # began in an earlier process. `search` sets the same level later.
        oracle.verbose = 0
        _drop_unrecorded_trials(oracle)
        _skip_journaled_rounds(oracle, self.journaled_rounds)

        given_up: dict[str, str] = {}
        for trial_id in list(oracle._retry_queue):
            trial = oracle.trials[trial_id]
            label = self.trial_label(trial_id)
            if trial.status in ("COMPLETED", "FAILED", "INVALID"):
                logger.info("tuner %s: %s ended before the process did; ending it from its saved state", self.name, label)
                oracle._retry_queue.remove(trial_id)
                oracle.end_trial(trial)
                continue

            interrupted = self.interruptions.get(trial_id, 0)
            if interrupted > MAX_INTERRUPTED_RETRIES:
                reason = (
                    f"the process ended {interrupted} times while this trial ran; "
                    f"given up after {MAX_INTERRUPTED_RETRIES} retries"
                )
                logger.warning("tuner %s: %s: %s", self.name, label, reason)
                oracle._retry_queue.remove(trial_id)
                trial.status = "FAILED"
                trial.message = f"FailedTrialError: {reason}"
                given_up[trial_id] = reason
                oracle.end_trial(trial)
                continue

            if interrupted:
                logger.info(
                    "tuner %s: %s was running when its process ended (retry %d of %d); running it again",
                    self.name, label, interrupted, MAX_INTERRUPTED_RETRIES,
                )
            else:
                logger.info("tuner %s: %s was stopped before it ended; running it again", self.name, label)
            _clear_metrics(trial)

        _rebuild_grid_walk(oracle)
        _conclude_complete_round(oracle)

        for trial_id in oracle.end_order:
            if trial_id in self.ended:
                continue
            if trial_id not in given_up:
                logger.info("tuner %s: writing the missing row of %s from the tuner's saved state", self.name, self.trial_label(trial_id))
            search.record_ended_trial(trial_id, reason=given_up.get(trial_id, ""))
            self.ended.add(trial_id)

    def trial_label(self, trial_id: str) -> str:
        """Name a trial by the number that trials.csv and the views show, with Keras Tuner's id."""
        number = self.numbers.get(trial_id)
        if number is None:
            return f"trial id {trial_id}"
        return f"trial {number} (id {trial_id})"


@dataclass
class ResumePlan:
    """The plan by which `tunescope resume` continues one run.

    `experiment` is the run's experiment with each tuner's `max_trials` set
    to its budget for this process. Tuners named in `finished` are skipped,
    and their recorded results stand.
    """

    run_dir: RunDir
    experiment: Experiment
    study: StudyStarted
    tuners: dict[str, TunerResume]
    finished: dict[str, TunerFinished]
    extend: int = 0

    def skips(self, tuner: str) -> bool:
        return tuner in self.finished


def plan_resume(path: str | Path, extend: int = 0) -> ResumePlan:
    """Plan the resumption of the run directory at `path`.

    `extend` raises every tuner's `max_trials` by that many trials; a
    finished run continues only with it. Raises `RunDirError` when `path` is
    no run directory, when the run is finished and `extend` is 0, or when the
    config copy no longer matches what the run started with, and
    `ConfigError` when the config copy is invalid.
    """
    if extend < 0:
        raise RunDirError(f"--extend {extend}: must be a positive number of trials")
    run_dir = open_run_dir(path)
    unreadable: list[int] = []
    events = read_journal(run_dir.journal, skipped=unreadable)
    study = next((event for event in events if isinstance(event, StudyStarted)), None)
    if study is None:
        damage = f" ({len(unreadable)} of its lines are unreadable)" if unreadable else ""
        raise RunDirError(
            f"{run_dir.journal}: contains no study_started record{damage}, so there is nothing to resume; "
            "start a new run with `tunescope run CONFIG`"
        )
    if unreadable:
        logger.warning(
            "%s: skipped %d unreadable lines (the first is line %d); resuming from the readable ones",
            run_dir.journal,
            len(unreadable),
            unreadable[0],
        )

    experiment = _load_experiment(run_dir, study)
    _check_unchanged(run_dir, study, experiment, events)

    results = _last_of(events, TunerFinished)
    starts = _last_of(events, TunerStarted)
    all_finished = all(name in results and results[name].status == FINISHED for name in study.tuners)
    if all_finished and isinstance(events[-1], StudyFinished) and extend == 0:
        raise RunDirError(
            f"{run_dir.path}: the run is finished, every tuner included; pass --extend N to give each tuner "
            f"N more trials, or rebuild its reports with `tunescope report {run_dir.path}`"
        )

    tuners = []
    for tuner in experiment.tuners:
        budget = tuner.max_trials
        if tuner.name in starts:
            # An earlier --extend raised the budget above the config copy's.
            budget = max(budget, starts[tuner.name].max_trials)
        tuners.append(replace(tuner, max_trials=budget + extend))
    experiment = experiment.with_tuners(tuple(tuners))

    finished = {}
    if extend == 0:
        finished = {name: result for name, result in results.items() if result.status == FINISHED}
    plans = {tuner.name: _tuner_history(events, tuner.name) for tuner in experiment.tuners}
    return ResumePlan(run_dir, experiment, study, plans, finished, extend)


def _load_experiment(run_dir: RunDir, study: StudyStarted) -> Experiment:
    config = run_dir.config
    try:
        text = config.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunDirError(
            f"{config}: not found, and resuming needs the run's copy of its experiment file; "
            "copy the original experiment file there"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(str(config), "", f"cannot be read ({error}); check its permissions and encoding (UTF-8)") from None
    # Relative data paths and custom model modules resolve against the
    # original file's folder, not the run directory holding the copy.
    base_dir = Path(study.config_dir) if study.config_dir else run_dir.path
    return parse_experiment(text, source=str(config), base_dir=base_dir)


def _check_unchanged(run_dir: RunDir, study: StudyStarted, experiment: Experiment, events: Sequence[Event]) -> None:
    """Reject a config copy whose search no longer matches the run's journal."""
    differences = []
    for what, before, now in (
        ("objective.metric", study.objective, experiment.objective.metric),
        ("objective.direction", study.direction, experiment.objective.direction),
        ("experiment.seed", study.seed, experiment.seed),
        ("dataset.name", study.dataset or experiment.dataset.name, experiment.dataset.name),
        ("model.family", study.model or experiment.model.family, experiment.model.family),
        ("the tuners", list(study.tuners), [tuner.name for tuner in experiment.tuners]),
    ):
        if before != now:
            differences.append(f"{what} changed from {before!r} to {now!r}")
    differences.extend(_space_differences(study.space, experiment.space.to_dicts()))

    configured = {tuner.name: tuner for tuner in experiment.tuners}
    for name, started in _last_of(events, TunerStarted).items():
        tuner = configured.get(name)
        if tuner is None:
            continue
        for what, before, now in (
            ("type", started.tuner_type, tuner.type),
            ("epochs", started.epochs, tuner.epochs),
            ("executions_per_trial", started.executions_per_trial, tuner.executions_per_trial),
            ("settings", _plain(started.settings), _plain(dict(tuner.settings))),
        ):
            if before != now:
                differences.append(f"tuner {name!r}: {what} changed from {before!r} to {now!r}")

    if differences:
        raise RunDirError(
            f"{run_dir.config}: {differences[0]} since the run started, so resuming would mix two searches; "
            "undo the change, or start a new run with `tunescope run`"
        )


def _space_differences(before: list[dict[str, Any]], now: list[dict[str, Any]]) -> list[str]:
    old = {item["name"]: _plain(item) for item in before}
    new = {item["name"]: _plain(item) for item in now}
    differences = [f"hyperparameter {name!r} was removed from the search space" for name in old if name not in new]
    differences += [f"hyperparameter {name!r} was added to the search space" for name in new if name not in old]
    for name in old:
        if name not in new:
            continue
        for key in sorted(set(old[name]) | set(new[name])):
            if old[name].get(key) != new[name].get(key):
                differences.append(
                    f"space: {name}.{key} changed from {old[name].get(key)!r} to {new[name].get(key)!r}"
                )
    if not differences and list(old) != list(new):
        differences.append(f"the order of the search space changed from {list(old)} to {list(new)}")
    return differences


def _plain(value: Any) -> Any:
    """Return `value` as the journal stores it: tuples as lists, keys as strings."""
    return json.loads(json.dumps(value, default=str))


def _last_of(events: Sequence[Event], kind: type) -> dict[str, Any]:
    last: dict[str, Any] = {}
    for event in events:
        if isinstance(event, kind):
            last[event.tuner] = event
    return last


def _tuner_history(events: Sequence[Event], name: str) -> TunerResume:
    """Read one tuner's trials, interruptions and search time from the journal.

    Search time adds up the sessions. A session that ended with a
    `TunerFinished` counts that event's `search_seconds`, which already
    includes every session before it. A session that a dying process cut
    short counts from its `TunerStarted` to the tuner's last event in it.
    """
    history = TunerResume(name)
    running: set[str] = set()
    interruptions: Counter[str] = Counter()
    seconds = 0.0
    session_start: float | None = None
    last_time = 0.0

    def close_session() -> None:
        nonlocal seconds, session_start
        if session_start is not None:
            seconds += max(0.0, last_time - session_start)
            session_start = None
        for trial_id in running:
            interruptions[trial_id] += 1
        running.clear()

    for event in events:
        if not isinstance(event, _TUNER_EVENTS) or event.tuner != name:
            continue
        if isinstance(event, TunerStarted):
            close_session()
            session_start = last_time = event.time
            continue
        last_time = event.time
        if isinstance(event, TrialStarted):
            if event.trial_id in running:
                interruptions[event.trial_id] += 1
            running.add(event.trial_id)
            history.numbers[event.trial_id] = event.number
        elif isinstance(event, TrialFinished):
            running.discard(event.trial_id)
            history.numbers.setdefault(event.trial_id, event.number)
            if event.status == CANCELLED:
                # A cancelled trial was stopped on request, not interrupted;
                # the oracle still has it running and will run it again.
                history.ended.discard(event.trial_id)
            else:
                history.ended.add(event.trial_id)
        elif isinstance(event, RoundFinished):
            history.journaled_rounds.add(event.round)
        elif isinstance(event, TunerFinished):
            seconds = event.search_seconds
            session_start = None
            running.clear()
    close_session()

    history.previous_search_seconds = round(seconds, 3)
    history.interruptions = {trial_id: count for trial_id, count in interruptions.items() if trial_id not in history.ended}
    return history


# -- repairs of Keras Tuner's reloaded state ---------------------------------------
#
# NOTE: these read and write private attributes of keras-tuner 1.4.8's
# `Oracle` (`_retry_queue`) and `GridSearchOracle` (`_ordered_ids`,
# `_populate_next`, `_compare`), because its reload offers no public way to
# repair them. A later keras-tuner may rename them; tests/test_resume.py
# resumes every tuner type and fails if that happens.


def _drop_unrecorded_trials(oracle: Any) -> None:
    """Drop trials whose file exists but which the oracle's saved state never recorded."""
    recorded = set(oracle.start_order)
    for trial_id in [trial_id for trial_id in oracle.trials if trial_id not in recorded]:
        logger.info("dropping trial %s: its creation was interrupted before the oracle saved it", trial_id)
        del oracle.trials[trial_id]


def _clear_metrics(trial: Any) -> None:
    from keras_tuner.src.engine.metrics_tracking import MetricsTracker

    trial.metrics = MetricsTracker()
    trial.score = None
    trial.best_step = 0


def _rebuild_grid_walk(oracle: Any) -> None:
    """Rebuild the grid oracle's ordered trial list and queue, which its saved state omits."""
    import keras_tuner
    from keras_tuner.src.tuners.gridsearch import LinkedList

    if not isinstance(oracle, keras_tuner.oracles.GridSearchOracle) or not oracle.start_order:
        return

    def compare(first: str, second: str) -> int:
        return oracle._compare(oracle.trials[first].hyperparameters.values, oracle.trials[second].hyperparameters.values)

    ordered = LinkedList()
    for trial_id in sorted(oracle.start_order, key=functools.cmp_to_key(compare)):
        ordered.insert(trial_id)
    oracle._ordered_ids = ordered
    # Each ended trial's next grid point is tried in turn; points already
    # taken by a later trial are skipped by the oracle itself.
    oracle._populate_next = list(oracle.end_order)


def _skip_journaled_rounds(oracle: Any, journaled: set[int]) -> None:
    """Keep an AiSara oracle from reporting a round the journal already holds."""
    report = getattr(oracle, "on_round", None)
    if report is None:
        return

    def report_new_rounds(event: RoundFinished) -> None:
        if event.round in journaled:
            logger.debug("round %d of %s is already in the journal", event.round, event.tuner)
            return
        report(event)

    oracle.on_round = report_new_rounds


def _conclude_complete_round(oracle: Any) -> None:
    # `AiSaraOracle.end_trial` saves the ended trial before it concludes the
    # round. A process that died in between leaves a round whose trials have
    # all ended, and the oracle would then return IDLE forever.
    # NOTE: `_advance` is private to core/tuners/aisara.py; it does nothing
    # when the round still has trials to run or was already concluded.
    advance = getattr(oracle, "_advance", None)
    if advance is not None:
        advance()
