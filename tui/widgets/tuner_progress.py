"""A progress line per tuner: trials done, time left, and the best objective so far."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from time import monotonic

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from tunescope.core.events import COMPLETED, FAILED, FINISHED, TrialFinished, TunerFinished, TunerStarted
from tunescope.core.report import format_duration, format_metric

from ._styles import sibling_css

WAITING = "waiting"
RUNNING = "running"
# Status of a tuner the study ended before it started, in the reports' words.
NOT_STARTED = "not started"


@dataclass
class TunerState:
    """One tuner's progress as the events tell it."""

    name: str
    tuner_type: str = ""
    max_trials: int = 0
    status: str = WAITING
    started: float | None = None
    # Trials that completed or failed; cancelled trials are not counted,
    # as the reports count them.
    landed: int = 0
    failed: int = 0
    best: float | None = None
    best_number: int | None = None
    search_seconds: float | None = None
    reason: str = ""


def seconds_left(state: TunerState, now: float) -> float | None:
    """Estimate a running tuner's remaining seconds from its mean time per landed trial.

    `now` is the time of the study's latest event, not the wall clock, so
    the same events always give the same estimate. Returns None before the
    first trial lands.
    """
    if state.started is None or state.landed == 0:
        return None
    per_trial = max(now - state.started, 0.0) / state.landed
    return per_trial * max(state.max_trials - state.landed, 0)


class TunerProgress(Static):
    """Progress bars of every tuner of the study, in the study's order."""

    DEFAULT_CSS = sibling_css(__file__)

    def __init__(self, ascii_only: bool = False, id: str | None = None, clock: Callable[[], float] = monotonic) -> None:
        super().__init__(id=id)
        self.ascii_only = ascii_only
        self.tuners: dict[str, TunerState] = {}
        self.metric = "objective"
        self.direction = "max"
        self.now = 0.0
        self.clock = clock
        self._event_time = 0.0
        self._received = 0.0
        self._dirty = False
        self._displayed_row_count = 0
        self._displayed_rows: tuple[str, ...] = ()
        self._owner_ended = False
        self._ended = False

    def start_study(self, tuners: list[str], metric: str, direction: str, budgets: dict[str, int] | None = None) -> None:
        """List the study's tuners; `budgets` gives each one's planned trials, where known before it starts."""
        self.metric, self.direction = metric, direction
        for name in tuners:
            state = self.tuners.setdefault(name, TunerState(name))
            if budgets and name in budgets:
                state.max_trials = budgets[name]
        self._dirty = True

    def mark_time(self, time: float) -> None:
        """Record the time of the latest event, from which the estimates count."""
        if time <= self._event_time:
            return
        self._event_time = time
        self._received = self.clock()

    def tuner_started(self, event: TunerStarted) -> None:
        state = self.tuners.setdefault(event.tuner, TunerState(event.tuner))
        state.tuner_type = event.tuner_type
        state.max_trials = event.max_trials
        state.status = RUNNING
        state.started = event.time
        self._dirty = True

    def trial_finished(self, event: TrialFinished) -> None:
        state = self.tuners.setdefault(event.tuner, TunerState(event.tuner, status=RUNNING))
        if event.status in (COMPLETED, FAILED):
            state.landed += 1
        if event.status == FAILED:
            state.failed += 1
        if event.status == COMPLETED and event.objective is not None:
            if state.best is None or _better(event.objective, state.best, self.direction):
                state.best, state.best_number = event.objective, event.number
        self._dirty = True

    def tuner_finished(self, event: TunerFinished) -> None:
        state = self.tuners.setdefault(event.tuner, TunerState(event.tuner))
        state.status = event.status
        state.search_seconds = event.search_seconds
        state.reason = event.reason
        if event.best_objective is not None:
            state.best = event.best_objective
        self._dirty = True

    def study_finished(self) -> None:
        """Mark the tuners that never started as not started, since the study has ended."""
        self._ended = True
        for state in self.tuners.values():
            if state.status == WAITING:
                state.status = NOT_STARTED
        self._dirty = True

    def set_owner_ended(self, ended: bool) -> None:
        """Stop or restart the time-left estimates of running tuners as the study's process ends or comes back."""
        if ended != self._owner_ended:
            self._owner_ended = ended
            self._dirty = True

    def show_changes(self) -> None:
        """Redraw the panel if its text changed since the last call.

        While a tuner runs, the estimates count from the latest event's time
        plus the time `clock` measures since that event arrived, so
        the time left goes down between events too. A layout of the screen
        is requested only when the number of tuners changed.
        """
        running = not self._owner_ended and any(state.status == RUNNING for state in self.tuners.values())
        elapsed = max(self.clock() - self._received, 0.0) if running else 0.0
        self.now = self._event_time + elapsed
        rows = tuple(
            f"{self._count(state).plain} {self._time(state).plain} {self._best(state).plain} {state.status}"
            for state in self.tuners.values()
        )
        if rows == self._displayed_rows and not self._dirty:
            return
        self._displayed_rows = rows
        self._dirty = False
        layout = len(self.tuners) != self._displayed_row_count
        self._displayed_row_count = len(self.tuners)
        self.refresh(layout=layout)

    def render(self) -> Table:
        table = Table.grid(padding=(0, 1))
        if not self.tuners:
            waiting = "the study did not start" if self._ended else "waiting for the study to start"
            table.add_row(Text(waiting, style="dim"))
            return table

        rows = [
            (Text(state.name[:16], style="bold"), self._count(state), self._time(state), self._best(state))
            for state in self.tuners.values()
        ]
        # The bar takes what the text columns and the gaps between the five
        # columns leave of the widget's content width.
        text_width = sum(max(row[i].cell_len for row in rows) for i in range(4))
        bar_width = max(self.content_size.width - text_width - 4, 6)
        for state, (name, count, time, best) in zip(self.tuners.values(), rows):
            table.add_row(name, self._bar(state, bar_width), count, time, best)
        return table

    def _bar(self, state: TunerState, width: int) -> Text:
        fraction = 1.0 if state.status == FINISHED else min(state.landed / state.max_trials, 1.0) if state.max_trials else 0.0
        filled = round(fraction * width)
        full, empty = ("#", ".") if self.ascii_only else ("█", "░")
        style = "cyan"
        if state.status == FINISHED:
            style = "green"
        elif state.status == "failed":
            style = "red"
        bar = Text(full * filled, style=style)
        bar.append(empty * (width - filled), style="dim")
        return bar

    def _count(self, state: TunerState) -> Text:
        total = state.max_trials or "?"
        text = Text(f"{state.landed}/{total}")
        if state.failed:
            text.append(f" ({state.failed} failed)", style="red")
        return text

    def _time(self, state: TunerState) -> Text:
        if state.status in (WAITING, NOT_STARTED):
            return Text(state.status, style="dim")
        if state.status == RUNNING and self._owner_ended:
            return Text("interrupted", style="yellow")
        if state.status == RUNNING:
            left = seconds_left(state, self.now)
            return Text("left ~?" if left is None else f"left ~{format_duration(left)}")
        took = "" if state.search_seconds is None else f" in {format_duration(state.search_seconds)}"
        style = "green" if state.status == FINISHED else "yellow"
        return Text(f"{state.status}{took}", style=style)

    def _best(self, state: TunerState) -> Text:
        if state.best is None:
            return Text("best -", style="dim")
        number = f" #{state.best_number}" if state.best_number is not None else ""
        return Text(f"best {format_metric(self.metric, state.best)}{number}")


def _better(a: float, b: float, direction: str) -> bool:
    return a > b if direction == "max" else a < b
