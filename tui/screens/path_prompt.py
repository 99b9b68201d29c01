"""A modal prompt for the path of an experiment file to load or save."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class PathPrompt(ModalScreen[Path | None]):
    """Ask for a file path; Enter returns it, Escape returns None."""

    CSS_PATH = "path_prompt.tcss"
    BINDINGS = [Binding("escape", "dismiss_none", "Back")]

    def __init__(self, title: str, path: Path | None) -> None:
        super().__init__()
        self._title = title
        self._path = path

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt"):
            yield Label(self._title, id="prompt-title")
            yield Input(str(self._path or ""), placeholder="experiment.toml", id="prompt-path")
            yield Label("Enter to confirm, Escape to go back", id="prompt-help")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        self.dismiss(Path(text).expanduser() if text else None)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
