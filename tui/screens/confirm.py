"""A modal question with a button per answer, used to confirm cancel and quit."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


class ConfirmDialog(ModalScreen[str | None]):
    """Ask a question; dismiss with the chosen answer's value, or None on Escape.

    `answers` are (label, value) pairs, the first one focused. Left and
    Right move between the buttons and stop at the ends, so that pressing
    Right again and again lands on the last answer, not the first.
    """

    CSS_PATH = "confirm.tcss"
    BINDINGS = [
        Binding("escape", "dismiss_none", "Back"),
        Binding("left", "move(-1)", "Previous", show=False),
        Binding("right", "move(1)", "Next", show=False),
    ]

    def __init__(self, title: str, body: str, answers: Sequence[tuple[str, str]]) -> None:
        super().__init__()
        self._title = title
        self._body = body
        self._answers = list(answers)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self._title, id="dialog-title")
            yield Static(self._body, id="dialog-body", markup=False)
            with Horizontal(id="dialog-buttons"):
                for index, (label, value) in enumerate(self._answers):
                    yield Button(label, id=f"answer-{value}", variant="primary" if index == 0 else "default")

    def on_mount(self) -> None:
        self.query(Button).first().focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        value = (event.button.id or "").removeprefix("answer-")
        self.dismiss(value)

    def action_move(self, step: int) -> None:
        buttons = list(self.query(Button))
        current = buttons.index(self.focused) if self.focused in buttons else 0
        buttons[max(0, min(len(buttons) - 1, current + step))].focus()

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
