"""The live trial table: a row per trial, updated per epoch, sortable."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from tunescope.core.events import CANCELLED, COMPLETED, FAILED, EpochEnded, EpochStarted, TrialFinished, TrialStarted
from tunescope.core.explain.ascii import format_value

from ._styles import sibling_css

RUNNING = "running"

# Status marks: the word carries the status, the mark and colour repeat it.
_STATUS_MARKS = {
    RUNNING: ("●", ">"),
    COMPLETED: ("✓", "+"),
    FAILED: ("✗", "x"),
    CANCELLED: ("–", "-"),
}
_STATUS_STYLES = {RUNNING: "bold cyan", COMPLETED: "green", FAILED: "bold red", CANCELLED: "yellow"}
_STATUS_WORDS = {RUNNING: "running", COMPLETED: "done", FAILED: "FAILED", CANCELLED: "cancelled"}

SORT_ORDERS = ("arrival", "objective", "tuner", "fit time")


@dataclass
class TrialRecord:
    """The app's record of one trial, from its start to its end."""

    tuner: str
    trial_id: str
    number: int
    hyperparameters: dict[str, Any]
    arrival: int
    status: str = RUNNING
    epoch: int = 0
    epochs: int = 0
    objective: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    fit_seconds: float | None = None
    trainable_params: int | None = None
    reason: str = ""
    round: int | None = None

    @property
    def key(self) -> str:
        return row_key(self.tuner, self.trial_id)


def row_key(tuner: str, trial_id: str) -> str:
    return f"{tuner}/{trial_id}"


def hyperparameter_text(values: dict[str, Any]) -> str:
    """Format hyperparameters compactly: ``num_layers=2 learning_rate=1.2e-3``."""
    return " ".join(f"{name}={format_value(value)}" for name, value in values.items())


class _TrialNumber:
    """The "#" cell: shows the trial number and lets sorting find the row's record."""

    def __init__(self, key: str, number: int) -> None:
        self.key = key
        self.number = number

    def __rich__(self) -> Text:
        return Text(str(self.number), justify="right")


class TrialTable(DataTable[Any]):
    """Trials of every tuner as they start, progress and land.

    Failed rows read FAILED with a mark (and red where colours show), and
    the best completed trial of each tuner has its objective starred.
    `action_cycle_sort` cycles the sort order through arrival, objective
    (best first), tuner and fit time.
    """

    DEFAULT_CSS = sibling_css(__file__)

    def __init__(self, metric: str = "objective", direction: str = "max", ascii_only: bool = False, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.metric = metric
        self.direction = direction
        self.ascii_only = ascii_only
        self.records: dict[str, TrialRecord] = {}
        self.sort_order = SORT_ORDERS[0]
        self._best: dict[str, str] = {}

    def on_mount(self) -> None:
        self.add_column("tuner", key="tuner")
        self.add_column("#", key="number")
        self.add_column("status", key="status", width=11)
        self.add_column(self.metric, key="objective")
        self.add_column("epoch", key="epoch")
        self.add_column("fit s", key="seconds")
        self.add_column("hyperparameters", key="hyperparameters")

    def set_objective(self, metric: str, direction: str) -> None:
        """Name the objective column after the study's metric."""
        self.metric = metric
        self.direction = direction
        column = self.columns.get("objective")  # type: ignore[call-overload]
        if column is not None:
            column.label = Text(metric)
            self.refresh()

    # -- events --------------------------------------------------------------

    def trial_started(self, event: TrialStarted) -> TrialRecord:
        record = self.records.get(row_key(event.tuner, event.trial_id))
        if record is None:
            record = TrialRecord(
                tuner=event.tuner,
                trial_id=event.trial_id,
                number=event.number,
                hyperparameters=dict(event.hyperparameters),
                arrival=len(self.records),
                epochs=event.epochs,
                round=event.round,
            )
            self.records[record.key] = record
            # The cursor follows new trials while it is on the newest row, so
            # the detail panel shows the running trial until the person moves.
            follow = self.sort_order == "arrival" and (self.row_count == 0 or self.cursor_row == self.row_count - 1)
            self.add_row(*self._cells(record), key=record.key)
            if follow:
                self.move_cursor(row=self.row_count - 1)
        else:
            # A retried trial starts again on its own row.
            record.status, record.epoch, record.reason = RUNNING, 0, ""
            self._refresh_row(record)
        self._resort()
        return record

    def epoch_progressed(self, event: EpochStarted | EpochEnded) -> TrialRecord | None:
        record = self.records.get(row_key(event.tuner, event.trial_id))
        if record is None or record.status != RUNNING:
            return None
        record.epochs = event.epochs
        if isinstance(event, EpochEnded):
            # The next epoch is running, unless this was the last one.
            record.epoch = min(event.epoch + 1, event.epochs) if event.epochs else event.epoch + 1
            record.metrics = dict(event.metrics)
            value = event.metrics.get(self.metric)
            record.objective = value if _is_number(value) else record.objective
        else:
            record.epoch = event.epoch
        self._refresh_row(record, columns=("objective", "epoch"))
        return record

    def trial_finished(self, event: TrialFinished) -> TrialRecord:
        record = self.records.get(row_key(event.tuner, event.trial_id))
        if record is None:
            record = self.trial_started(
                TrialStarted(
                    tuner=event.tuner,
                    trial_id=event.trial_id,
                    number=event.number,
                    hyperparameters=event.hyperparameters,
                    epochs=event.epochs,
                    round=event.round,
                    time=event.time,
                )
            )
        record.status = event.status
        record.objective = event.objective if _is_number(event.objective) else None
        record.metrics = dict(event.metrics)
        record.epoch = event.epochs
        record.epochs = max(record.epochs, event.epochs)
        record.fit_seconds = event.fit_seconds
        record.trainable_params = event.trainable_params
        record.reason = event.reason
        record.hyperparameters = dict(event.hyperparameters)
        self._refresh_row(record)
        self._update_best(record)
        self._resort()
        return record

    # -- cells -----------------------------------------------------------------

    def _cells(self, record: TrialRecord) -> list[Any]:
        return [
            Text(record.tuner),
            _TrialNumber(record.key, record.number),
            self._status_cell(record.status),
            self._objective_cell(record),
            Text(f"{record.epoch}/{record.epochs}" if record.epochs else str(record.epoch), justify="right"),
            Text("" if record.fit_seconds is None else f"{record.fit_seconds:.1f}", justify="right"),
            Text(hyperparameter_text(record.hyperparameters), no_wrap=True, overflow="ellipsis"),
        ]

    def _status_cell(self, status: str) -> Text:
        marks = _STATUS_MARKS.get(status, ("?", "?"))
        mark = marks[1] if self.ascii_only else marks[0]
        return Text(f"{mark} {_STATUS_WORDS.get(status, status)}", style=_STATUS_STYLES.get(status, ""))

    def _objective_cell(self, record: TrialRecord) -> Text:
        if record.objective is None:
            return Text("")
        star = " "
        if self._best.get(record.tuner) == record.key:
            star = "*" if self.ascii_only else "★"
        style = "" if record.status == COMPLETED else "dim"
        return Text(f"{record.objective:.4f}{star}", style=style, justify="right")

    _COLUMNS = ("tuner", "number", "status", "objective", "epoch", "seconds", "hyperparameters")

    def _refresh_row(self, record: TrialRecord, columns: tuple[str, ...] = _COLUMNS) -> None:
        cells = dict(zip(self._COLUMNS, self._cells(record)))
        for column in columns:
            self.update_cell(record.key, column, cells[column], update_width=column != "hyperparameters")

    def _update_best(self, record: TrialRecord) -> None:
        if record.status != COMPLETED or record.objective is None:
            return
        current = self.records.get(self._best.get(record.tuner, ""))
        if current is not None and current.objective is not None and not self._better(record.objective, current.objective):
            return
        self._best[record.tuner] = record.key
        if current is not None:
            self._refresh_row(current, columns=("objective",))
        self._refresh_row(record, columns=("objective",))

    def _better(self, a: float, b: float) -> bool:
        return a > b if self.direction == "max" else a < b

    # -- selection and sorting ----------------------------------------------

    @property
    def highlighted_record(self) -> TrialRecord | None:
        """The record of the row under the cursor, if any."""
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        return self.records.get(str(key.value))

    def action_cycle_sort(self) -> None:
        position = SORT_ORDERS.index(self.sort_order)
        self.sort_order = SORT_ORDERS[(position + 1) % len(SORT_ORDERS)]
        self._resort()
        self.notify(f"trials sorted by {self.sort_order}", timeout=2)

    def _resort(self) -> None:
        self.sort("number", key=lambda cell: self._sort_key(self.records[cell.key]))

    def _sort_key(self, record: TrialRecord) -> tuple[Any, ...]:
        if self.sort_order == "objective":
            # Trials without an objective go last, whatever the direction.
            if record.objective is None:
                return (1, 0.0, record.arrival)
            value = -record.objective if self.direction == "max" else record.objective
            return (0, value, record.arrival)
        if self.sort_order == "tuner":
            return (record.tuner, record.number, record.arrival)
        if self.sort_order == "fit time":
            return (-(record.fit_seconds or 0.0), record.arrival)
        return (record.arrival,)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
