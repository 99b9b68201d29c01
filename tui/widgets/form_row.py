"""One labelled field of the setup form, with its hint or the loader's problem beside it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Label, Static

from ._styles import sibling_css


class FormRow(Horizontal):
    """A label, its control, and beside it a hint or the problem the config loader found.

    `key` is the key path in the experiment file, such as
    "dataset.train_size"; the setup screen finds the row by it.
    """

    DEFAULT_CSS = sibling_css(__file__)

    def __init__(self, label: str, control: Widget, key: str, hint: str = "") -> None:
        super().__init__(classes="form-row", id="row-" + key.replace(".", "-"))
        self.key = key
        self.control = control
        self.hint = hint
        self._label = label

    def compose(self) -> ComposeResult:
        yield Label(self._label, classes="form-label")
        yield self.control
        yield Static(self.hint, classes="form-note", markup=False)

    def show_error(self, problem: str | None) -> None:
        """Show the loader's problem with this field's value, or the hint again with None."""
        if problem is None and not self.has_class("-invalid"):
            return
        self.query_one(".form-note", Static).update(problem if problem is not None else self.hint)
        self.set_class(problem is not None, "-invalid")
