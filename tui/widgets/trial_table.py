"""The live trial table: a row per trial, updated per epoch, sortable.

The table keeps its records up to date as events arrive but draws them only
when `show_changes` is called, so a study that sends many events a second
costs one repaint per call, of the rows that changed. Each row lays the
trial's fields out in fixed-width columns, so the table never changes width
with its content, which would make Textual lay the whole screen out again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

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


class TrialTable(ScrollView, can_focus=True):
    """Trials of every tuner as they start, progress and land, a line each under a fixed header.

    Failed rows read FAILED with a mark (and red where colours show), and
    the best completed trial of each tuner has its objective starred.
    `action_cycle_sort` cycles the sort order through arrival, objective
    (best first), tuner and fit time. Moving the cursor posts
    `RowHighlighted`.

    It draws through Textual's line API from a cache of rendered rows, so a
    redraw renders only the rows whose text changed and the two lines that
    the cursor left and entered.
    """

    DEFAULT_CSS = sibling_css(__file__)
    COMPONENT_CLASSES = {"trial-table--header", "trial-table--cursor", "trial-table--even-row"}
    BINDINGS = [
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first_row", "First row", show=False),
        Binding("end", "last_row", "Last row", show=False),
    ]

    class RowHighlighted(Message):
        """The cursor moved to the row of the trial `key`."""

        def __init__(self, table: TrialTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> TrialTable:
            return self.table

    def __init__(self, metric: str = "objective", direction: str = "max", ascii_only: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.metric = metric
        self.direction = direction
        self.ascii_only = ascii_only
        self.records: dict[str, TrialRecord] = {}
        self.sort_order = SORT_ORDERS[0]
        self.cursor_row = 0
        self._best: dict[str, str] = {}
        # Each tuner's position in the study, from the order its first trial arrived in.
        self._tuner_order: dict[str, int] = {}
        self._pending_rows: list[str] = []
        self._pending_changes: set[str] = set()
        self._widths = dict(_WIDTHS)
        self._displayed: dict[str, _TrialRow] = {}
        # Row keys in the order shown, and each key's position in it.
        self._order: list[str] = []
        self._position: dict[str, int] = {}
        # Each shown row and the header rendered once, without the cursor's or stripes' style.
        self._strips: dict[str, Strip] = {}
        self._header_strip: Strip | None = None

    def on_mount(self) -> None:
        self._update_virtual_size()

    def _header(self) -> Text:
        return lay_out({name: Text(self.metric if name == "objective" else _LABELS[name]) for name in FIELDS}, self._widths)

    def set_objective(self, metric: str, direction: str) -> None:
        """Name the objective field after the study's metric, widening it while the table is empty."""
        self.metric = metric
        self.direction = direction
        if not self._order and not self._pending_rows:
            self._widths["objective"] = max(_WIDTHS["objective"], len(metric) + 1)
            self._update_virtual_size()
        self._header_strip = None
        self.refresh()

    def displayed_field(self, key: str, name: str) -> str:
        """Return the text of field `name` in row `key` as the table shows it now, before cropping."""
        return self._displayed[key].fields[name]

    @property
    def row_count(self) -> int:
        """The number of rows shown."""
        return len(self._order)

    @property
    def ordered_keys(self) -> list[str]:
        """The keys of the rows shown, top to bottom."""
        return list(self._order)

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
            self._tuner_order.setdefault(record.tuner, len(self._tuner_order))
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
        drawn again. The cursor follows new trials while it is on the newest
        row, so the detail panel shows the running trial until the person
        moves the cursor.
        """
        if not self._pending_rows and not self._pending_changes:
            return set()
        changed = set(self._pending_changes) | set(self._pending_rows)
        follow = bool(self._pending_rows) and self.sort_order == "arrival" and (not self._order or self.cursor_row == len(self._order) - 1)

        for key in self._pending_rows:
            self._displayed[key] = self._row(self.records[key])
            self._position[key] = len(self._order)
            self._order.append(key)
            self._refresh_row(self._position[key])
        for key in self._pending_changes - set(self._pending_rows):
            row = self._row(self.records[key])
            if row.text != self._displayed[key].text:
                self._displayed[key] = row
                self._redraw_row(key)
        new_rows = bool(self._pending_rows)
        self._pending_rows.clear()
        self._pending_changes.clear()

        if new_rows:
            self._update_virtual_size()
        if self.sort_order != "arrival":
            self._resort()
        if follow:
            self.move_cursor(row=len(self._order) - 1)
            # The scroll range takes in the new rows only once the screen has been laid out.
            self.call_after_refresh(self._scroll_to_cursor)
        return changed

    def _redraw_row(self, key: str) -> None:
        """Render row `key` again from its displayed text, and repaint its line if it is in view."""
        self._strips.pop(key, None)
        self._refresh_row(self._position[key])

    def _refresh_row(self, index: int) -> None:
        y = index - round(self.scroll_offset.y) + 1
        if 1 <= y < self.size.height:
            self.refresh(Region(0, y, self.size.width, 1))

    def _update_virtual_size(self) -> None:
        width = 1 + sum(self._widths.values()) + len(_GAP) * (len(FIELDS) - 1)
        # A new virtual size makes Textual lay the whole screen out again, so
        # the table counts as full height until its rows overflow it.
        height = max(len(self._order) + 1, self.size.height)
        if self.virtual_size != (width, height):
            self.virtual_size = Size(width, height)

    def on_resize(self) -> None:
        self._update_virtual_size()
        self._scroll_to_cursor()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        scroll_x, scroll_y = self.scroll_offset
        base = self.rich_style
        if y == 0:
            if self._header_strip is None:
                self._header_strip = self._render_text(self._header())
            style = base + self.get_component_rich_style("trial-table--header")
            return self._header_strip.crop_extend(scroll_x, scroll_x + width, style).apply_style(style)
        index = scroll_y + y - 1
        if index >= len(self._order):
            return Strip.blank(width, base)
        key = self._order[index]
        strip = self._strips.get(key)
        if strip is None:
            strip = self._strips[key] = self._render_text(self._displayed[key].text)
        style = base
        if index == self.cursor_row:
            style = base + self.get_component_rich_style("trial-table--cursor")
        elif index % 2:
            style = base + self.get_component_rich_style("trial-table--even-row")
        return strip.crop_extend(scroll_x, scroll_x + width, style).apply_style(style)

    def _render_text(self, text: Text) -> Strip:
        # One blank cell before the text, inside the row's background, as a margin.
        line = Text(" ", end="")
        line.append_text(text)
        return Strip(list(line.render(self.app.console)), line.cell_len)

    def notify_style_update(self) -> None:
        # Rows are rendered with the styles of their own text only, but a new
        # theme can change how those resolve.
        super().notify_style_update()
        self._strips.clear()
        self._header_strip = None

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

    # -- cursor and sorting ----------------------------------------------------

    @property
    def highlighted_record(self) -> TrialRecord | None:
        """The record of the row under the cursor, if any."""
        if not self._order:
            return None
        return self.records.get(self._order[self.cursor_row])

    def move_cursor(self, row: int) -> None:
        """Put the cursor on row `row` (clamped to the rows shown), scroll it into view and post `RowHighlighted`."""
        if not self._order:
            return
        row = min(max(row, 0), len(self._order) - 1)
        previous = self.cursor_row
        self.cursor_row = row
        self._scroll_to_cursor()
        if row != previous:
            self._refresh_row(previous)
        self._refresh_row(row)
        self.post_message(self.RowHighlighted(self, self._order[row]))

    def _scroll_to_cursor(self) -> None:
        rows_in_view = max(self.size.height - 1, 1)
        top = round(self.scroll_offset.y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False)
        elif self.cursor_row >= top + rows_in_view:
            self.scroll_to(y=self.cursor_row - rows_in_view + 1, animate=False)

    def action_cursor_up(self) -> None:
        self.move_cursor(self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self.cursor_row + 1)

    def action_page_up(self) -> None:
        self.move_cursor(self.cursor_row - max(self.size.height - 2, 1))

    def action_page_down(self) -> None:
        self.move_cursor(self.cursor_row + max(self.size.height - 2, 1))

    def action_first_row(self) -> None:
        self.move_cursor(0)

    def action_last_row(self) -> None:
        self.move_cursor(len(self._order) - 1)

    def on_click(self, event: events.Click) -> None:
        row = round(self.scroll_offset.y) + event.y - 1
        # The header and the blank lines below the last row select nothing.
        if event.y >= 1 and row < len(self._order):
            self.move_cursor(row)

    def on_focus(self) -> None:
        self._refresh_row(self.cursor_row)

    def on_blur(self) -> None:
        self._refresh_row(self.cursor_row)

    def action_cycle_sort(self) -> None:
        position = SORT_ORDERS.index(self.sort_order)
        self.sort_order = SORT_ORDERS[(position + 1) % len(SORT_ORDERS)]
        self.show_changes()
        self._resort()
        self.notify(f"trials sorted by {self.sort_order}", timeout=2)

    def _resort(self) -> None:
        """Order the rows by the sort order, keeping the cursor on its trial."""
        current = self._order[self.cursor_row] if self._order else None
        self._order.sort(key=lambda key: self._sort_key(self.records[key]))
        self._position = {key: index for index, key in enumerate(self._order)}
        if current is not None:
            self.cursor_row = self._position[current]
            self._scroll_to_cursor()
        self.refresh()

    def _sort_key(self, record: TrialRecord) -> tuple[Any, ...]:
        if self.sort_order == "objective":
            # Trials without an objective go last, whatever the direction.
            if record.objective is None:
                return (1, 0.0, record.arrival)
            value = -record.objective if self.direction == "max" else record.objective
            return (0, value, record.arrival)
        if self.sort_order == "tuner":
            return (self._tuner_order.get(record.tuner, 0), record.number, record.arrival)
        if self.sort_order == "fit time":
            return (-(record.fit_seconds or 0.0), record.arrival)
        return (record.arrival,)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
