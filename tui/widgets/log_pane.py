"""The log pane, fed by Python logging from any thread while the app runs, and by a run's log file in attach mode."""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from rich.text import Text
from textual.widgets import RichLog

from ..messages import LogRecorded
from ._styles import sibling_css

_LEVEL_STYLES = {logging.WARNING: "yellow", logging.ERROR: "bold red", logging.CRITICAL: "bold red"}

# The level name of a log file line, written as "DATE TIME LEVEL NAME: MESSAGE".
_LEVEL_NAME = re.compile(r"^\S+ \S+ (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")


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
        style = next((s for level, s in sorted(_LEVEL_STYLES.items(), reverse=True) if message.levelno >= level), "")
        self.write(Text(message.text, style=style))


def level_of_line(line: str, previous: int = logging.INFO) -> int:
    """Return the logging level named at the start of a log file line, or `previous` for a continuation line."""
    match = _LEVEL_NAME.match(line)
    if match is None:
        return previous
    return logging.getLevelName(match.group(1))  # type: ignore[no-any-return]


def follow_log_file(path: Path, stop: Callable[[], bool], poll_seconds: float = 0.2) -> Iterator[str]:
    """Yield the lines of a log file, without their line ends, as another process appends them.

    Runs until `stop()` returns True. A file that does not exist yet is
    waited for. After a truncation the file is read again from its start,
    and after a rotation (the path now names another file, or none) the
    rest of the old file is read, then the new file from its start. A line
    still being written is held back until its newline arrives.

    NOTE: a truncation is noticed only while the file is shorter than the
    part already read, so a file truncated and refilled past that point
    within one poll is read on from the old position.
    """
    handle: BinaryIO | None = None
    pending = b""
    try:
        while not stop():
            if handle is None:
                handle = _open_or_none(path)
                if handle is None:
                    time.sleep(poll_seconds)
                    continue

            chunk = handle.readline()
            if chunk:
                pending += chunk
                if pending.endswith(b"\n"):
                    yield _decode(pending)
                    pending = b""
                continue

            change = _file_change(path, handle)
            if change == "truncated":
                handle.seek(0)
                pending = b""
            elif change == "replaced":
                if pending:
                    yield _decode(pending)
                    pending = b""
                handle.close()
                handle = None
            else:
                time.sleep(poll_seconds)
    finally:
        if handle is not None:
            handle.close()


def _open_or_none(path: Path) -> BinaryIO | None:
    try:
        return open(path, "rb")
    except FileNotFoundError:
        return None


def _file_change(path: Path, handle: BinaryIO) -> str:
    """Return "replaced", "truncated" or "" for the file open as `handle` and the file `path` names now."""
    try:
        current = os.stat(path)
    except FileNotFoundError:
        return "replaced"
    opened = os.fstat(handle.fileno())
    if (current.st_dev, current.st_ino) != (opened.st_dev, opened.st_ino):
        return "replaced"
    if current.st_size < handle.tell():
        return "truncated"
    return ""


def _decode(line: bytes) -> str:
    return line.decode("utf-8", errors="replace").rstrip("\r\n")
