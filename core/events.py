"""Typed records of what a study does, and the sinks that consume them.

The engine emits one event per step (study, tuner, trial, epoch, AiSara
round). The journal writes them as JSON lines; the headless view, the app and
the reports read the same records. Every event is a flat dataclass of JSON
types, so `to_dict` and `event_from_dict` round-trip through the journal.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

logger = logging.getLogger(__name__)

# Trial statuses as the reports show them.
COMPLETED = "completed"
FAILED = "failed"
CANCELLED = "cancelled"

# Tuner and study statuses.
FINISHED = "finished"
STOPPED = "stopped"

# The reason of a stop requested without a reason of its own.
USER_CANCELLED = "cancelled by the user"


@dataclass
class Event:
    """Base of all events: `kind` names the type in the journal."""

    kind: ClassVar[str] = "event"
    time: float = field(default_factory=time.time, kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.kind, **asdict(self)}


@dataclass
class StudyStarted(Event):
    kind: ClassVar[str] = "study_started"
    study: str
    run_dir: str
    tuners: list[str]
    objective: str
    direction: str
    space: list[dict[str, Any]]
    seed: int
    device: str = "CPU"
    dataset: str = ""
    model: str = ""
    # The experiment file's folder: relative data paths and custom model
    # modules resolve against it when the run is resumed.
    config_dir: str = ""


@dataclass
class TunerStarted(Event):
    kind: ClassVar[str] = "tuner_started"
    tuner: str
    tuner_type: str
    max_trials: int
    epochs: int
    executions_per_trial: int = 1
    settings: dict[str, Any] = field(default_factory=dict)
    # Search time spent on this tuner by earlier processes of a resumed run;
    # its `TunerFinished.search_seconds` includes it.
    previous_search_seconds: float = 0.0


@dataclass
class TrialStarted(Event):
    kind: ClassVar[str] = "trial_started"
    tuner: str
    trial_id: str
    number: int
    hyperparameters: dict[str, Any]
    epochs: int = 0
    round: int | None = None


@dataclass
class EpochStarted(Event):
    kind: ClassVar[str] = "epoch_started"
    tuner: str
    trial_id: str
    epoch: int
    epochs: int


@dataclass
class EpochEnded(Event):
    kind: ClassVar[str] = "epoch_ended"
    tuner: str
    trial_id: str
    epoch: int
    epochs: int
    metrics: dict[str, float]


@dataclass
class TrialFinished(Event):
    """One trial's outcome: the row of `trials.csv`.

    `metrics` contains each metric at the trial's best epoch for the objective,
    and `objective` that epoch's objective value (None when the trial failed).
    `fit_seconds` is the wall time of `model.fit` alone.
    """

    kind: ClassVar[str] = "trial_finished"
    tuner: str
    trial_id: str
    number: int
    status: str
    hyperparameters: dict[str, Any]
    metrics: dict[str, float] = field(default_factory=dict)
    objective: float | None = None
    epochs: int = 0
    fit_seconds: float = 0.0
    trainable_params: int | None = None
    reason: str = ""
    round: int | None = None
    rss_mb: float | None = None


@dataclass
class RoundFinished(Event):
    """An AiSara round: the bounds it searched and what it concluded.

    `bounds` maps each hyperparameter to the [min, max] this round sampled
    from, and `next_bounds` to the [min, max] of the next round.
    """

    kind: ClassVar[str] = "round_finished"
    tuner: str
    round: int
    bounds: dict[str, list[float]]
    next_bounds: dict[str, list[float]]
    impacts: dict[str, float]
    predicted_best: dict[str, float]
    exploration: dict[str, float] | None = None
    best_trial_id: str | None = None
    shrinking: bool = True


@dataclass
class TunerFinished(Event):
    kind: ClassVar[str] = "tuner_finished"
    tuner: str
    status: str
    search_seconds: float
    trials_completed: int = 0
    trials_failed: int = 0
    best_trial_id: str | None = None
    best_hyperparameters: dict[str, Any] = field(default_factory=dict)
    best_objective: float | None = None
    best_metrics: dict[str, float] = field(default_factory=dict)
    test_accuracy: float | None = None
    test_loss: float | None = None
    trainable_params: int | None = None
    reason: str = ""


@dataclass
class StudyFinished(Event):
    kind: ClassVar[str] = "study_finished"
    status: str
    seconds: float
    reason: str = ""


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        StudyStarted,
        TunerStarted,
        TrialStarted,
        EpochStarted,
        EpochEnded,
        TrialFinished,
        RoundFinished,
        TunerFinished,
        StudyFinished,
    )
}


def event_from_dict(data: dict[str, Any]) -> Event:
    """Rebuild an event from its `to_dict()` form.

    Unknown fields are dropped, so journals written by a newer tunescope
    still read. Raises `KeyError` for an unknown event kind.
    """
    cls = EVENT_TYPES[data["event"]]
    known = {f.name for f in fields(cls)}
    return cls(**{key: value for key, value in data.items() if key in known})


EventSink = Callable[[Event], None]


class EventBus:
    """Fans each event out to every sink.

    A sink that raises is logged and kept, so a broken terminal or a full
    disk in one sink never ends the study. Thread-safe: events from the
    engine's worker thread reach sinks in order.
    """

    def __init__(self, sinks: Iterable[EventSink] = ()) -> None:
        self._sinks = list(sinks)
        self._lock = threading.Lock()
        self._errors: dict[int, int] = {}

    def add(self, sink: EventSink) -> None:
        with self._lock:
            self._sinks.append(sink)

    def emit(self, event: Event) -> None:
        with self._lock:
            for sink in self._sinks:
                try:
                    sink(event)
                except Exception:
                    count = self._errors.get(id(sink), 0) + 1
                    self._errors[id(sink)] = count
                    # Log the first failure of each sink in full, then every 100th.
                    if count == 1 or count % 100 == 0:
                        logger.exception("event sink %r failed on %s (failure %d)", sink, event.kind, count)
