"""The live trial table: a row per trial, updated per epoch, sortable.

The table keeps its records up to date as events arrive but draws them only
when `show_changes` is called, so a study that sends many events a second
costs one repaint per call. Each row is one DataTable cell that lays the
trial's fields out in fixed-width columns, because a DataTable renders every
visible cell again after any update, and one Rich render per row is cheaper
than seven. Fixed widths also keep the table from changing size with its
content, which would make Textual lay the whole screen out again.
"""

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
# A running trial whose process ended: `tunescope resume` runs it again.
INTERRUPTED = "interrupted"

# Status marks: the word carries the status, the mark and colour repeat it.
_STATUS_MARKS = {
    RUNNING: ("●", ">"),
    COMPLETED: ("✓", "+"),
    FAILED: ("✗", "x"),
    CANCELLED: ("–", "-"),
    INTERRUPTED: ("!", "!"),
}
_STATUS_STYLES = {RUNNING: "bold cyan", COMPLETED: "green", FAILED: "bold red", CANCELLED: "yellow", INTERRUPTED: "bold yellow"}
_STATUS_WORDS = {RUNNING: "running", COMPLETED: "done", FAILED: "FAILED", CANCELLED: "cancelled", INTERRUPTED: "halted"}

SORT_ORDERS = ("arrival", "objective", "tuner", "fit time")

# Field names and widths in cells. The objective field widens to its
# metric's name when the study starts. Hyperparameters are cropped at the
# table's edge, and the detail panel shows them in full.
FIELDS = ("tuner", "number", "status", "objective", "epochs", "seconds", "hyperparameters")
_WIDTHS = {"tuner": 10, "number": 3, "status": 11, "objective": 9, "epochs": 6, "seconds": 6, "hyperparameters": 150}
_LABELS = {"tuner": "tuner", "number": "#", "status": "status", "epochs": "epochs", "seconds": "fit s", "hyperparameters": "hyperparameters"}
_RIGHT_ALIGNED = frozenset({"number", "objective", "epochs", "seconds"})
_GAP = "  "
_COLUMN_KEY = "trial"


@dataclass
class TrialRecord:
    """The app's record of one trial, from its start to its end.

    `number` is the trial's 1-based number within its tuner, the name that
    trials.csv and the reports give it, and `trial_id` is Keras Tuner's id.
    `epoch` counts the epochs that have ended, and `current_epoch` is the
    1-based epoch that started last (0 before the first one).
    """

    tuner: str
    trial_id: str
    number: int
    hyperparameters: dict[str, Any]
    arrival: int
    status: str = RUNNING
    epoch: int = 0
    epochs: int = 0
    current_epoch: int = 0
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


class _TrialRow:
    """A row's one cell: the trial's fields laid out as text, and the record key that sorting uses."""

    def __init__(self, key: str, fields: dict[str, Text], widths: dict[str, int]) -> None:
        self.key = key
        self.fields = {name: text.plain for name, text in fields.items()}
        self.text = lay_out(fields, widths)

    def __rich__(self) -> Text:
        return self.text


def lay_out(fields: dict[str, Text], widths: dict[str, int]) -> Text:
    """Join `fields` into one line, each cropped or padded to its width in `widths`."""
    line = Text(no_wrap=True, overflow="crop")
    for index, name in enumerate(FIELDS):
        cell = fields[name].copy()
        cell.truncate(widths[name], overflow="ellipsis")
        padding = " " * (widths[name] - cell.cell_len)
        if name in _RIGHT_ALIGNED:
            line.append(padding)
            line.append_text(cell)
        else:
            line.append_text(cell)
            line.append(padding)
        if index < len(FIELDS) - 1:
            line.append(_GAP)
    return line


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
        self._pending_rows: list[str] = []
        self._pending_changes: set[str] = set()
        self._widths = dict(_WIDTHS)
        self._displayed: dict[str, _TrialRow] = {}

    def on_mount(self) -> None:
        self._add_column()

    def _header(self) -> Text:
        return lay_out({name: Text(self.metric if name == "objective" else _LABELS[name]) for name in FIELDS}, self._widths)

    def _add_column(self) -> None:
        width = sum(self._widths.values()) + len(_GAP) * (len(FIELDS) - 1)
        self.add_column(self._header(), key=_COLUMN_KEY, width=width)

    def set_objective(self, metric: str, direction: str) -> None:
        """Name the objective field after the study's metric, widening it while the table is empty."""
        self.metric = metric
        self.direction = direction
        if not self.row_count and not self._pending_rows:
            self._widths["objective"] = max(_WIDTHS["objective"], len(metric) + 1)
            self.clear(columns=True)
            self._add_column()
            return
        column = self.columns.get(_COLUMN_KEY)  # type: ignore[call-overload]
        if column is not None:
            column.label = self._header()
            self.refresh()

    def displayed_field(self, key: str, name: str) -> str:
        """Return the text of field `name` in row `key` as the table shows it now, before cropping."""
        return self._displayed[key].fields[name]

    # -- events --------------------------------------------------------------
    # These update the records only, and `show_changes` draws them.

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
            self._pending_rows.append(record.key)
        else:
            # A retried trial starts again on its own row.
            record.status, record.epoch, record.current_epoch, record.reason = RUNNING, 0, 0, ""
            self._pending_changes.add(record.key)
        return record

    def epoch_progressed(self, event: EpochStarted | EpochEnded) -> TrialRecord | None:
        record = self.records.get(row_key(event.tuner, event.trial_id))
        if record is None or record.status != RUNNING:
            return None
        # Epoch events count from 1, as Keras' progress output does. A
        # Hyperband trial that continues an earlier one counts on from that
        # trial's last epoch, and its `epochs` is that total.
        record.epochs = max(event.epochs, event.epoch)
        record.current_epoch = max(record.current_epoch, event.epoch)
        if isinstance(event, EpochEnded):
            record.epoch = event.epoch
            record.metrics = dict(event.metrics)
            value = event.metrics.get(self.metric)
            record.objective = value if _is_number(value) else record.objective
        self._pending_changes.add(record.key)
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
        self._pending_changes.add(record.key)
        self._update_best(record)
        return record

    def set_process_ended(self, ended: bool) -> None:
        """Mark running trials interrupted while the study's process is gone, and running again once it is back."""
        before, after = (RUNNING, INTERRUPTED) if ended else (INTERRUPTED, RUNNING)
        for record in self.records.values():
            if record.status == before:
                record.status = after
                self._pending_changes.add(record.key)

    # -- drawing ---------------------------------------------------------------

    def show_changes(self) -> set[str]:
        """Draw the records changed since the last call and return the keys of their rows.

        New rows are appended, and only the rows whose text changed are
        updated. The cursor follows new trials while it is on the newest
        row, so the detail panel shows the running trial until the person
        moves the cursor.
        """
        if not self._pending_rows and not self._pending_changes:
            return set()
        changed = set(self._pending_changes) | set(self._pending_rows)
        follow = bool(self._pending_rows) and self.sort_order == "arrival" and (self.row_count == 0 or self.cursor_row == self.row_count - 1)

        for key in self._pending_rows:
            row = self._row(self.records[key])
            self._displayed[key] = row
            self.add_row(row, key=key)
        for key in self._pending_changes - set(self._pending_rows):
            row = self._row(self.records[key])
            if row.text != self._displayed[key].text:
                self._displayed[key] = row
                self.update_cell(key, _COLUMN_KEY, row)
        self._pending_rows.clear()
        self._pending_changes.clear()

        if self.sort_order != "arrival":
            self._resort()
        if follow:
            self.move_cursor(row=self.row_count - 1, animate=False)
        return changed

    # -- cells -----------------------------------------------------------------

    def _row(self, record: TrialRecord) -> _TrialRow:
        fields = {
            "tuner": Text(record.tuner),
            "number": Text(str(record.number)),
            "status": self._status_cell(record.status),
            "objective": self._objective_cell(record),
            "epochs": Text(f"{record.epoch}/{record.epochs}" if record.epochs else str(record.epoch)),
            "seconds": Text("" if record.fit_seconds is None else f"{record.fit_seconds:.1f}"),
            "hyperparameters": Text(hyperparameter_text(record.hyperparameters)),
        }
        return _TrialRow(record.key, fields, self._widths)

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
        return Text(f"{record.objective:.4f}{star}", style=style)

    def _update_best(self, record: TrialRecord) -> None:
        if record.status != COMPLETED or record.objective is None:
            return
        current = self.records.get(self._best.get(record.tuner, ""))
        if current is not None and current.objective is not None and not self._better(record.objective, current.objective):
            return
        self._best[record.tuner] = record.key
        if current is not None:
            self._pending_changes.add(current.key)
        self._pending_changes.add(record.key)

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
        self.show_changes()
        self._resort()
        self.notify(f"trials sorted by {self.sort_order}", timeout=2)

    def _resort(self) -> None:
        self.sort(_COLUMN_KEY, key=lambda cell: self._sort_key(self.records[cell.key]))

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
