"""The ``--no-tui`` view: a Rich live display on a terminal, plain lines elsewhere.

`HeadlessView` is an event sink. On a terminal it keeps a table of recent
trials and a progress bar per tuner, which Rich redraws on its own timer, so
the engine's thread only updates state. When the output is a pipe, a file, CI
or ``TERM=dumb``, it writes one plain line per event instead, with no ANSI
codes, and flushes each line.

A failed write (closed stdout, a terminal gone after SIGHUP) never reaches the
study: the view stops writing and logs the error once at debug level.
"""

from __future__ import annotations

import codecs
import logging
import os
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.live import Live
from rich.logging import RichHandler
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from tunescope.core.events import (
    CANCELLED,
    COMPLETED,
    FAILED,
    FINISHED,
    EpochEnded,
    Event,
    RoundFinished,
    StudyFinished,
    StudyStarted,
    TrialFinished,
    TrialStarted,
    TunerFinished,
    TunerStarted,
)
from tunescope.core.report import (
    StudyReport,
    comparison_rows,
    format_count,
    format_duration,
    format_metric,
)

from .study_handle import HEADLESS_LOG_NAME, LOG_FILE_FORMAT

logger = logging.getLogger(__name__)

# Redraws of the live table per second. They run on a thread of the study's
# own process and take Python's interpreter lock from training: at 4 a
# second, the search took about 5% longer than with plain lines
# (docs/benchmarks.md), and at 1 about as long.
REFRESH_PER_SECOND = 1

# Lines of the live display that are not trial rows: the trial table's title,
# header and header rule, plus the blank line above the bars.
_TABLE_CHROME_LINES = 4

# Trial rows kept in memory; no terminal is taller than this.
_MAX_ROWS = 500

# Columns between two cells of the trial table: the right padding of a cell
# and the divider of rich.box.SIMPLE_HEAD, a space.
_COLUMN_GAP = 2
# "cancelled" and an ellipsis when a reason follows it, so the word stays whole.
_MIN_STATUS_WIDTH = 10
_MIN_HYPERPARAMETER_WIDTH = 8

_STATUS_STYLES = {COMPLETED: "green", FAILED: "red", CANCELLED: "yellow", "running": "cyan"}

_LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_LOG_DATE_FORMAT = "%H:%M:%S"

# Log records kept until the run directory, and so the log file, is known.
_MAX_EARLY_RECORDS = 1000


class HeadlessView:
    """Shows a study's events on a stream, live on a terminal and as plain lines otherwise.

    `stream` defaults to sys.stdout. `live=None` chooses the live display
    when the stream is a terminal and TERM is not "dumb". `color=None` lets
    Rich decide, which honours NO_COLOR. `ascii_only=None` is True when the
    stream's encoding is not UTF-8. The view is thread-safe: the engine calls
    it from its worker thread while Rich redraws from its own.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        live: bool | None = None,
        color: bool | None = None,
        ascii_only: bool | None = None,
    ) -> None:
        target = stream if stream is not None else sys.stdout
        if target is None:
            # Started with stdout closed (`>&-`): sys.stdout is None, and the
            # study still runs, with nothing to show.
            target = open(os.devnull, "w", encoding="utf-8")
        self.live = _is_terminal(target) if live is None else live
        self.ascii_only = not _is_utf8(target) if ascii_only is None else ascii_only
        self._stream = _GuardedStream(target, self.ascii_only)
        # Reentrant, because a failed write logs, and the plain-line log
        # handler writes through this same lock.
        self._lock = threading.RLock()
        self._state = _SearchState()
        self._console: Console | None = None
        self._live: Live | None = None
        self._log_handler: _RunLogHandler | None = None

        if self.live:
            self._console = Console(
                file=self._stream,  # type: ignore[arg-type]
                force_terminal=True,
                color_system=None if color is False else "auto",
                no_color=False if color else None,
                highlight=False,
            )
            self._live = Live(
                _LiveDisplay(self),
                console=self._console,
                refresh_per_second=REFRESH_PER_SECOND,
                # Stray prints during the study then appear above the display
                # instead of breaking it; only when the view owns stdout.
                redirect_stdout=target is sys.stdout,
                redirect_stderr=False,
            )

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        """Start the live display; the plain-line mode needs no start."""
        if self._live is not None and not self._live.is_started:
            self._live.start()

    def stop(self, close_log: bool = True) -> None:
        """Draw the live display a last time and stop redrawing.

        With `close_log`, the run's log file is closed too. Without, it
        stays open until the logging handler is closed, so that the lines
        logged while the reports are written reach it.
        """
        if self._live is not None and self._live.is_started:
            self._live.stop()
        if close_log and self._log_handler is not None:
            self._log_handler.close_file()

    def __enter__(self) -> HeadlessView:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- events ------------------------------------------------------------------

    def __call__(self, event: Event) -> None:
        """Record one event, and in plain-line mode write its line."""
        if isinstance(event, StudyStarted) and self._log_handler is not None:
            # Outside the view's lock, because the log handler takes its own
            # lock first and the view's lock second.
            self._log_handler.open_file(Path(event.run_dir) / HEADLESS_LOG_NAME)
        with self._lock:
            self._state.apply(event)
            if self.live:
                return
            line = _plain_line(self._state, event)
            if line is not None:
                self._stream.write_line(line)

    def replay(self, events: Iterable[Event]) -> None:
        """Take in the journal of earlier processes of a resumed run, writing nothing.

        The live table and progress then count the trials those processes
        finished. An earlier `StudyFinished` (a stop) is left out, since the
        study goes on.
        """
        with self._lock:
            for event in events:
                if not isinstance(event, StudyFinished):
                    self._state.apply(event)

    # -- output after the study ------------------------------------------------

    def show_summary(self, report: StudyReport, written: list[Path]) -> None:
        """Show the comparison table and the paths of the reports written."""
        rows = comparison_rows(report)
        names = report.tuner_names()
        if self._console is not None:
            self._console.print(_comparison_table(rows, names))
            self._console.print("Reports:")
            for path in written:
                self._console.print(f"  {path}", highlight=False, markup=False)
            return

        with self._lock:
            for line in _plain_table(rows, names):
                self._stream.write_line(line)
            self._stream.write_line("Reports:")
            for path in written:
                self._stream.write_line(f"  {path}")

    def logging_handler(self) -> logging.Handler:
        """Return a handler that shows log records above the live display, or as plain lines.

        The handler also copies the records into RUN_DIR/tunescope.log from
        the study's start until the view stops (or with `stop(close_log=False)`,
        until the handler is closed), so that `tunescope attach` can show
        them. Records logged before the study started are written to the
        file when it opens.
        """
        if self._console is not None:
            display: logging.Handler = RichHandler(
                console=self._console,
                show_path=False,
                markup=False,
                log_time_format=_LOG_DATE_FORMAT,
            )
        else:
            display = _PlainLineHandler(self)
            display.setFormatter(logging.Formatter(_LOG_FORMAT, _LOG_DATE_FORMAT))
        self._log_handler = _RunLogHandler(display)
        return self._log_handler

    def _write_record(self, text: str) -> None:
        with self._lock:
            for line in text.splitlines() or [""]:
                self._stream.write_line(line)


class _PlainLineHandler(logging.Handler):
    """Writes each log record through the view, between its event lines."""

    def __init__(self, view: HeadlessView) -> None:
        super().__init__()
        self._view = view

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:  # noqa: BLE001 - logging's own contract: report, never raise
            self.handleError(record)
            return
        self._view._write_record(text)


class _RunLogHandler(logging.Handler):
    """Passes each record to the view's display handler and copies it into the run's log file.

    Until `open_file` is called the records are kept, at most
    `_MAX_EARLY_RECORDS` of them. After `close_file` they go to the display only.
    """

    def __init__(self, display: logging.Handler) -> None:
        super().__init__()
        self.display = display
        self._file: logging.FileHandler | None = None
        self._early: deque[logging.LogRecord] | None = deque(maxlen=_MAX_EARLY_RECORDS)

    def open_file(self, path: Path) -> None:
        """Start appending records to `path`, unless its folder does not exist."""
        with self.lock:  # type: ignore[union-attr]
            if self._file is not None and Path(self._file.baseFilename) == path.absolute():
                return
            self._close_file()
            if not path.parent.is_dir():
                return
            try:
                handler = logging.FileHandler(path, mode="a", encoding="utf-8")
            except OSError as error:
                # The study goes on, and only `tunescope attach` loses the log lines.
                logger.warning("the log file %s cannot be written (%s); `tunescope attach` will show no log lines", path, error)
                return
            handler.setFormatter(logging.Formatter(LOG_FILE_FORMAT))
            self._file = handler
            for record in self._early or ():
                handler.handle(record)
            self._early = None

    def close_file(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._close_file()
            self._early = None

    def _close_file(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def emit(self, record: logging.LogRecord) -> None:
        self.display.handle(record)
        if self._file is not None:
            self._file.handle(record)
        elif self._early is not None:
            self._early.append(record)

    def close(self) -> None:
        self.close_file()
        self.display.close()
        super().close()


# -- output stream ---------------------------------------------------------------


class _GuardedStream:
    """A text stream wrapper whose writes and flushes catch OSError and ValueError.

    The first write or flush that fails with OSError (BrokenPipeError
    included) or ValueError (a closed file) turns every later write into a
    no-op. A UnicodeEncodeError is retried with unencodable characters
    replaced. This also keeps BrokenPipeError away from Rich, whose console
    answers it with SystemExit (rich 15, `Console.on_broken_pipe`).
    """

    def __init__(self, stream: TextIO, ascii_only: bool) -> None:
        self._stream = stream
        self._ascii_only = ascii_only
        self.broken = False

    @property
    def encoding(self) -> str:
        # Rich reads `encoding` to choose ASCII boxes and bars.
        if self._ascii_only:
            return "ascii"
        return getattr(self._stream, "encoding", None) or "utf-8"

    def isatty(self) -> bool:
        return _is_terminal(self._stream)

    def fileno(self) -> int:
        return self._stream.fileno()

    def write(self, text: str) -> int:
        if self.broken:
            return len(text)
        if self._ascii_only:
            text = text.encode("ascii", "replace").decode("ascii")
        try:
            self._stream.write(text)
        except UnicodeEncodeError:
            self._write_replaced(text)
        except (OSError, ValueError) as error:
            self._fail(error)
        return len(text)

    def flush(self) -> None:
        if self.broken:
            return
        try:
            self._stream.flush()
        except (OSError, ValueError) as error:
            self._fail(error)

    def write_line(self, line: str) -> None:
        self.write(line + "\n")
        self.flush()

    def _write_replaced(self, text: str) -> None:
        encoding = self.encoding
        try:
            self._stream.write(text.encode(encoding, "replace").decode(encoding))
        except (OSError, ValueError) as error:
            self._fail(error)

    def _fail(self, error: Exception) -> None:
        self.broken = True
        logger.debug("headless view: output failed (%r); writing nothing more", error)


def _is_terminal(stream: Any) -> bool:
    if os.environ.get("TERM") == "dumb":
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, OSError, ValueError):
        return False


def _is_utf8(stream: Any) -> bool:
    # A stream without an encoding (io.StringIO) takes any text.
    encoding = getattr(stream, "encoding", None)
    if not encoding:
        return True
    try:
        return codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        return False


# -- state -----------------------------------------------------------------------


@dataclass
class _TrialRow:
    tuner: str
    trial_id: str
    number: int
    hyperparameters: dict[str, Any]
    started: float
    round: int | None = None
    epoch: int = 0
    epochs: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    trainable_params: int | None = None
    seconds: float | None = None
    status: str = "running"
    reason: str = ""


@dataclass
class _TunerState:
    name: str
    max_trials: int = 0
    started: float | None = None
    search_seconds: float | None = None
    status: str = ""
    # Ids of the trials that completed or failed; cancelled ones are not
    # counted, as the reports count them.
    done: set[str] = field(default_factory=set)
    best: float | None = None


class _SearchState:
    """The search as the view has seen it so far, updated by each event."""

    def __init__(self) -> None:
        self.objective = "val_accuracy"
        self.direction = "max"
        self.tuners: dict[str, _TunerState] = {}
        self.rows: OrderedDict[tuple[str, str], _TrialRow] = OrderedDict()
        self.name_width = 8
        self.finished = False

    def tuner(self, name: str) -> _TunerState:
        if name not in self.tuners:
            self.tuners[name] = _TunerState(name)
            self.name_width = max(self.name_width, len(name))
        return self.tuners[name]

    def apply(self, event: Event) -> None:
        if isinstance(event, StudyStarted):
            self.objective = event.objective
            self.direction = event.direction
            for name in event.tuners:
                self.tuner(name)
        elif isinstance(event, TunerStarted):
            tuner = self.tuner(event.tuner)
            tuner.max_trials = event.max_trials
            tuner.started = event.time
            # A resumed tuner runs again after the end an earlier process recorded.
            tuner.search_seconds = None
            tuner.status = ""
        elif isinstance(event, TrialStarted):
            self._trial_started(event)
        elif isinstance(event, EpochEnded):
            row = self.rows.get((event.tuner, event.trial_id))
            if row is not None:
                row.epoch = event.epoch
                row.epochs = event.epochs
                row.metrics = event.metrics
        elif isinstance(event, TrialFinished):
            self._trial_finished(event)
        elif isinstance(event, TunerFinished):
            tuner = self.tuner(event.tuner)
            tuner.search_seconds = event.search_seconds
            tuner.status = event.status
        elif isinstance(event, StudyFinished):
            self.finished = True

    def _trial_started(self, event: TrialStarted) -> None:
        key = (event.tuner, event.trial_id)
        self.rows.pop(key, None)
        self.rows[key] = _TrialRow(
            tuner=event.tuner,
            trial_id=event.trial_id,
            number=event.number,
            hyperparameters=event.hyperparameters,
            started=event.time,
            round=event.round,
            epochs=event.epochs,
        )
        while len(self.rows) > _MAX_ROWS:
            self.rows.popitem(last=False)

    def _trial_finished(self, event: TrialFinished) -> None:
        key = (event.tuner, event.trial_id)
        row = self.rows.pop(key, None) or _TrialRow(
            event.tuner, event.trial_id, event.number, event.hyperparameters, event.time, event.round
        )
        self.rows[key] = row
        row.status = event.status
        row.reason = event.reason
        row.epoch = event.epochs
        row.epochs = max(row.epochs, event.epochs)
        # A failed trial has no metrics, and its last epoch's would mislead.
        row.metrics = event.metrics
        row.trainable_params = event.trainable_params
        row.seconds = event.fit_seconds

        tuner = self.tuner(event.tuner)
        if event.status in (COMPLETED, FAILED):
            tuner.done.add(event.trial_id)
        if event.status == COMPLETED and event.objective is not None:
            if tuner.best is None or _better(event.objective, tuner.best, self.direction):
                tuner.best = event.objective

    def metric_columns(self) -> list[str]:
        if self.objective == "val_loss":
            return ["val_loss", "val_accuracy"]
        return [self.objective, "val_loss"]


def _better(value: float, than: float, direction: str) -> bool:
    return value > than if direction == "max" else value < than


# -- plain lines -------------------------------------------------------------------


def _plain_line(state: _SearchState, event: Event) -> str | None:
    """Return the plain-text line for one event, or None for events shown without a line."""
    stamp = time.strftime("%H:%M:%S", time.localtime(event.time))
    if isinstance(event, StudyStarted):
        return (
            f"{stamp} study {event.study} started  tuners={','.join(event.tuners)}  "
            f"objective={event.objective} ({event.direction})  data={event.dataset}  "
            f"model={event.model}  seed={event.seed}  device={event.device}"
        )
    if isinstance(event, StudyFinished):
        reason = f": {event.reason}" if event.reason else ""
        return f"{stamp} study {event.status} in {format_duration(event.seconds)}{reason}"

    tuner = getattr(event, "tuner", None)
    if tuner is None:
        return None
    prefix = f"{stamp} {tuner:<{state.name_width}}"

    if isinstance(event, TunerStarted):
        return f"{prefix} started  type={event.tuner_type} max_trials={event.max_trials} epochs={event.epochs}"
    if isinstance(event, TrialStarted):
        trial = _trial_label(state, event.tuner, event.number)
        parts = [f"{'started':<9}", _round_text(event.round), _hyperparameter_text(event.hyperparameters)]
        return f"{prefix} {trial}  " + "  ".join(part for part in parts if part)
    if isinstance(event, EpochEnded):
        row = state.rows.get((event.tuner, event.trial_id))
        trial = _trial_label(state, event.tuner, row.number if row else None)
        epoch = f"epoch {event.epoch}/{event.epochs}"
        return f"{prefix} {trial}  {epoch:<9}  {_metric_text(state, event.metrics)}".rstrip()
    if isinstance(event, TrialFinished):
        return _trial_finished_line(state, event, prefix)
    if isinstance(event, RoundFinished):
        bounds = " ".join(f"{name}=[{_short(low)}, {_short(high)}]" for name, (low, high) in event.next_bounds.items())
        best = f"  best trial {_trial_name(state, event.tuner, event.best_trial_id)}" if event.best_trial_id else ""
        return f"{prefix} round {event.round} finished{best}  next bounds {bounds}"
    if isinstance(event, TunerFinished):
        return _tuner_finished_line(state, event, prefix)
    return None


def _trial_finished_line(state: _SearchState, event: TrialFinished, prefix: str) -> str:
    trial = _trial_label(state, event.tuner, event.number)
    parts = [f"{event.status:<9}"]
    if event.status == COMPLETED:
        measures = [_metric_text(state, event.metrics)]
        if event.trainable_params is not None:
            measures.append(f"params={event.trainable_params:,}")
        measures.append(f"fit={format_duration(event.fit_seconds)}")
        parts.append(" ".join(measure for measure in measures if measure))
    else:
        parts.append(_first_line(event.reason) or "no reason recorded")
    parts.append(_round_text(event.round))
    parts.append(_hyperparameter_text(event.hyperparameters))
    return f"{prefix} {trial}  " + "  ".join(part for part in parts if part)


def _tuner_finished_line(state: _SearchState, event: TunerFinished, prefix: str) -> str:
    parts = [
        f"{event.status} in {format_duration(event.search_seconds)}",
        f"completed={event.trials_completed} failed={event.trials_failed}",
    ]
    if event.best_objective is not None:
        best_trial = _trial_name(state, event.tuner, event.best_trial_id)
        parts.append(f"best {state.objective}={event.best_objective:.4f} (trial {best_trial})")
    if event.test_accuracy is not None:
        parts.append(f"test_accuracy={event.test_accuracy:.4f}")
    if event.trainable_params is not None:
        parts.append(f"params={event.trainable_params:,}")
    if event.reason:
        parts.append(_first_line(event.reason))
    return f"{prefix} " + "  ".join(parts)


def _trial_label(state: _SearchState, tuner: str, number: int | None) -> str:
    if number is None:
        return "trial ?"
    max_trials = state.tuner(tuner).max_trials
    return f"trial {number}/{max_trials}" if max_trials > 0 else f"trial {number}"


def _trial_name(state: _SearchState, tuner: str, trial_id: str | None) -> str:
    # Lines name trials by number ("trial 3/6"), and Keras Tuner's ids count
    # from 0, so an id alone would point at the wrong line.
    row = state.rows.get((tuner, trial_id or ""))
    return str(row.number) if row is not None else f"id {trial_id}"


def _metric_text(state: _SearchState, metrics: dict[str, float]) -> str:
    # The objective first, then the other validation metrics; training
    # metrics only when there is no validation metric at all.
    names = [name for name in metrics if name.startswith("val_")] or list(metrics)
    if state.objective in names:
        names.remove(state.objective)
        names.insert(0, state.objective)
    return " ".join(f"{name}={metrics[name]:.4f}" for name in names)


def _hyperparameter_text(hyperparameters: dict[str, Any]) -> str:
    return " ".join(f"{name}={_short(value)}" for name, value in hyperparameters.items())


def _round_text(round_number: int | None) -> str:
    return "" if round_number is None else f"round={round_number}"


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else ""


# -- live display ------------------------------------------------------------------


class _LiveDisplay:
    """The renderable that Rich's Live redraws: recent trials, then one bar per tuner."""

    def __init__(self, view: HeadlessView) -> None:
        self._view = view

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        # Build the tables under the view's lock and render them after
        # releasing it, so the engine thread waits for a table build at most,
        # never for a write to the terminal.
        with self._view._lock:
            state = self._view._state
            fit = options.size.height - len(state.tuners) - _TABLE_CHROME_LINES
            table = _trial_table(state, max(fit, 1), options.max_width, time.time())
            bars = _tuner_bars(state, time.time())
        yield Group(table, Text(""), bars)


def _trial_table(state: _SearchState, max_rows: int, width: int, now: float) -> Table:
    """Build the table of the most recent trials, at most `max_rows` rows within `width` columns.

    The numeric columns get the width of their longest cell; the status gets
    up to a third of the rest and the hyperparameters what remains. Rich would
    otherwise shrink every column alike on a narrow terminal, numbers included.
    """
    first, second = state.metric_columns()
    headers = ["tuner", "trial", "hyperparameters", "epoch", _short_header(first), _short_header(second), "params", "time", "status"]
    recent_rows = list(state.rows.values())[-max_rows:]
    rows = [_trial_cells(row, first, second, now) for row in recent_rows]

    widths = [max([len(header), *(len(cells[index]) for cells in rows)]) for index, header in enumerate(headers)]
    free = width - (sum(widths) - widths[2] - widths[-1]) - _COLUMN_GAP * (len(headers) - 1)
    widths[-1] = min(widths[-1], max(free // 3, _MIN_STATUS_WIDTH))
    widths[2] = max(free - widths[-1], _MIN_HYPERPARAMETER_WIDTH)

    table = Table(
        title="Trials",
        box=box.SIMPLE_HEAD,
        title_justify="left",
        show_edge=False,
        pad_edge=False,
        padding=(0, 1, 0, 0),
    )
    for index, header in enumerate(headers):
        justify = "right" if index in (3, 4, 5, 6, 7) else "left"
        table.add_column(header, justify=justify, width=widths[index], no_wrap=True, overflow="ellipsis")
    for row, cells in zip(recent_rows, rows):
        table.add_row(*cells[:-1], Text(cells[-1], style=_STATUS_STYLES.get(row.status, "")))
    return table


def _short_header(metric: str) -> str:
    return metric.replace("accuracy", "acc")


def _trial_cells(row: _TrialRow, first: str, second: str, now: float) -> list[str]:
    seconds = row.seconds if row.seconds is not None else now - row.started
    status = row.status
    if row.reason and row.status in (FAILED, CANCELLED):
        status = f"{row.status}: {_first_line(row.reason)}"
    return [
        row.tuner,
        str(row.number),
        _hyperparameter_text(row.hyperparameters),
        f"{row.epoch}/{row.epochs}" if row.epochs else str(row.epoch or ""),
        _metric_cell(first, row.metrics),
        _metric_cell(second, row.metrics),
        format_count(row.trainable_params) if row.trainable_params is not None else "",
        format_duration(seconds),
        status,
    ]


def _metric_cell(name: str, metrics: dict[str, float]) -> str:
    value = metrics.get(name)
    return "" if value is None else format_metric(name, value)


def _tuner_bars(state: _SearchState, now: float) -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(width=30)
    grid.add_column(justify="right", no_wrap=True)
    grid.add_column(justify="right", no_wrap=True)
    grid.add_column(no_wrap=True)

    # The study runs its tuners in order, so a tuner without events listed
    # before one that started had finished in an earlier process of a
    # resumed run, and one listed after it has not started yet.
    tuners = list(state.tuners.values())
    started = [index for index, tuner in enumerate(tuners) if tuner.started is not None or tuner.search_seconds is not None]
    last_started = max(started, default=-1)

    for index, tuner in enumerate(tuners):
        total = tuner.max_trials if tuner.max_trials > 0 else None
        done = len(tuner.done)
        finished = tuner.search_seconds is not None
        bar = ProgressBar(total=total, completed=done, width=30, pulse=total is None and not finished)
        if finished:
            elapsed = format_duration(tuner.search_seconds)
        elif tuner.started is not None:
            elapsed = format_duration(now - tuner.started)
        elif index < last_started:
            elapsed = "finished earlier"
        else:
            elapsed = "not started" if state.finished else "waiting"
        count = f"{done}/{total}" if total else str(done)
        best = f"best {format_metric(state.objective, tuner.best)}" if tuner.best is not None else ""
        if tuner.status and tuner.status != FINISHED:
            best = f"{best}  {tuner.status}".strip()
        grid.add_row(tuner.name, bar, count, elapsed, best)
    return grid


# -- comparison table ----------------------------------------------------------------


def _comparison_table(rows: list[tuple[str, dict[str, str]]], names: list[str]) -> Table:
    table = Table(title="Comparison", box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("measure", style="bold")
    for name in names:
        table.add_column(name)
    for measure, cells in rows:
        table.add_row(measure, *(_styled_cell(measure, cells.get(name, "")) for name in names))
    return table


def _styled_cell(measure: str, text: str) -> Text:
    # Every tuner status other than "finished" (stopped, failed, not started) needs attention.
    if measure == "status" and text not in ("", "finished"):
        return Text(text, style="yellow")
    if text == "no completed trial":
        return Text(text, style="red")
    return Text(text)


def _plain_table(rows: list[tuple[str, dict[str, str]]], names: list[str]) -> Iterator[str]:
    header = ["measure", *names]
    body = [[measure, *(cells.get(name, "") for name in names)] for measure, cells in rows]
    widths = [max(len(line[column]) for line in [header, *body]) for column in range(len(header))]

    def join(cells: list[str]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip()

    yield join(header)
    yield join(["-" * width for width in widths])
    for line in body:
        yield join(line)
