"""The detail panel under the trial table: one trial's values, metrics and failure reason."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tunescope.core.events import FAILED
from tunescope.core.explain.ascii import format_number

from ._styles import sibling_css
from .trial_table import TrialRecord, hyperparameter_text


class TrialDetail(Static):
    """The highlighted trial in full, its failure reason included."""

    DEFAULT_CSS = sibling_css(__file__)

    def __init__(self, id: str | None = None) -> None:
        super().__init__("Highlight a trial to see its details.", id=id, markup=False)

    def show(self, record: TrialRecord | None) -> None:
        if record is None:
            self.update("Highlight a trial to see its details.")
            return
        text = Text()
        text.append(f"{record.tuner} #{record.number}", style="bold")
        text.append(f" (trial {record.trial_id}")
        if record.round is not None:
            text.append(f", round {record.round}")
        text.append(f"): {record.status}")
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
        self.update(text)
