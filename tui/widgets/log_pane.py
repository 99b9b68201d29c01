"""The log pane, fed by Python logging from any thread while the app runs, and by a run's log file otherwise."""

from __future__ import annotations

import logging

from rich.text import Text
from textual.widgets import RichLog

from ..messages import LogRecorded
from ._styles import sibling_css

_LEVEL_STYLES = {logging.WARNING: "yellow", logging.ERROR: "bold red", logging.CRITICAL: "bold red"}


class PaneLogHandler(logging.Handler):
    """A logging handler that posts each record to a log pane as a message.

    `post_message` is thread-safe, so the engine's worker thread logs
    through it without touching a widget.
    """

    def __init__(self, pane: LogPane, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.pane = pane
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self.pane.post_message(LogRecorded(text, record.levelno))


class LogPane(RichLog):
    """Log lines of the engine and the app; it installs its handler on the root logger while mounted."""

    DEFAULT_CSS = sibling_css(__file__)

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id, wrap=True, markup=False, max_lines=2000)
        self.handler = PaneLogHandler(self)

    def on_mount(self) -> None:
        self.write(Text("Log lines of the engine and the app appear here.", style="dim"))
        logging.getLogger().addHandler(self.handler)

    def on_unmount(self) -> None:
        logging.getLogger().removeHandler(self.handler)

    def on_log_recorded(self, message: LogRecorded) -> None:
        message.stop()
        self.add_line(message.text, message.levelno)

    def add_line(self, text: str, levelno: int) -> None:
        """Write one line, coloured by its logging level; call it on the app's thread."""
        style = next((s for level, s in sorted(_LEVEL_STYLES.items(), reverse=True) if levelno >= level), "")
        self.write(Text(text, style=style))
