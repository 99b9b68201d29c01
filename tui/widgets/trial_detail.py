"""The detail panel under the trial table: one trial's values, metrics and failure reason."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tunescope.core.events import FAILED
from tunescope.core.explain.ascii import format_number

from ._styles import sibling_css
from .trial_table import INTERRUPTED, RUNNING, TrialRecord, hyperparameter_text

PROMPT = "Highlight a trial to see its details."


def detail_text(record: TrialRecord, metric: str) -> Text:
    """Describe one trial: its name and state, hyperparameters, last metrics and failure reason.

    A trial is named by its 1-based number within its tuner, as trials.csv
    and the reports name it. `metric` is the study's objective, which the
    state line of a running trial quotes.
    """
    text = Text()
    text.append(f"{record.tuner} trial {record.number}", style="bold")
    if record.round is not None:
        text.append(f" (round {record.round})")
    text.append(f": {_state(record, metric)}")
    if record.trainable_params is not None:
        text.append(f", {record.trainable_params:,} trainable parameters")
    text.append("\n")
    text.append(hyperparameter_text(record.hyperparameters))
    if record.metrics:
        metrics = "  ".join(f"{name} {format_number(value, digits=4)}" for name, value in record.metrics.items())
        text.append("\n" + metrics, style="dim")
    if record.reason:
        style = "bold red" if record.status == FAILED else "yellow"
        text.append(f"\nreason: {record.reason}", style=style)
    return text


def _state(record: TrialRecord, metric: str) -> str:
    if record.status == INTERRUPTED:
        return "halted: its process ended during this trial, and `tunescope resume` runs it again"
    if record.status != RUNNING:
        return record.status
    if record.current_epoch == 0:
        return "running: waiting for its first epoch"
    of = f" of {record.epochs}" if record.epochs else ""
    state = f"running: epoch {record.current_epoch}{of}"
    value = record.metrics.get(metric)
    if value is None:
        return f"{state}, no {metric} yet"
    return f"{state}, {metric} {format_number(value, digits=4)} so far"


class TrialDetail(Static):
    """The highlighted trial in full, its failure reason included.

    The panel has a fixed height, so a new text repaints it without a layout
    of the whole screen.
    """

    DEFAULT_CSS = sibling_css(__file__)

    def __init__(self, id: str | None = None) -> None:
        super().__init__(PROMPT, id=id, markup=False)
        self.metric = "objective"
        self._displayed: tuple[str, tuple[object, ...]] = (PROMPT, ())

    def show(self, record: TrialRecord | None) -> None:
        text = Text(PROMPT) if record is None else detail_text(record, self.metric)
        displayed = (text.plain, tuple(text.spans))
        if displayed == self._displayed:
            return
        self._displayed = displayed
        self.update(text, layout=False)
