"""The run's log file as the app reads it: new lines since the last read, and the level each names."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import BinaryIO

# The level name of a log file line, written as "DATE TIME LEVEL NAME: MESSAGE".
_LEVEL_NAME = re.compile(r"^\S+ \S+ (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")


def level_of_line(line: str, previous: int = logging.INFO) -> int:
    """Return the logging level named at the start of a log file line, or `previous` for a continuation line."""
    match = _LEVEL_NAME.match(line)
    if match is None:
        return previous
    return logging.getLevelName(match.group(1))  # type: ignore[no-any-return]


class LogTail:
    """A reader of the lines another process appends to a log file, a batch per call, without waiting.

    With `backlog`, the first file opened is read from the start of its
    last `backlog` lines, so a long log shows its latest lines at once. A
    file that does not exist yet reads as empty. After a truncation the
    file is read again from its start, and after a rotation (the path now
    names another file, or none) the rest of the old file is read, then the
    new file from its start. A line still being written is held back until
    its newline arrives. Not thread-safe: one reader calls `read`.

    NOTE: a truncation is noticed only while the file is shorter than the
    part already read, so a file truncated and refilled past that point
    between two reads is read on from the old position.
    """

    def __init__(self, path: Path, backlog: int | None = None) -> None:
        self.path = path
        self._backlog = backlog
        self._handle: BinaryIO | None = None
        self._pending = b""

    def read(self, max_lines: int = 1000) -> list[str]:
        """Return up to `max_lines` lines appended since the last call, without their line ends."""
        lines: list[str] = []
        while len(lines) < max_lines:
            if self._handle is None:
                self._handle = _open_or_none(self.path)
                if self._handle is None:
                    break
                if self._backlog is not None:
                    self._handle.seek(_start_of_last_lines(self._handle, self._backlog))
                    # A file that replaces this one is read from its start.
                    self._backlog = None
            chunk = self._handle.readline()
            if chunk:
                self._pending += chunk
                if self._pending.endswith(b"\n"):
                    lines.append(_decode(self._pending))
                    self._pending = b""
                continue
            change = _file_change(self.path, self._handle)
            if change == "truncated":
                self._handle.seek(0)
                self._pending = b""
            elif change == "replaced":
                if self._pending:
                    lines.append(_decode(self._pending))
                    self._pending = b""
                self.close()
            else:
                break
        return lines

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def _start_of_last_lines(handle: BinaryIO, count: int, block_size: int = 65536) -> int:
    """Return the offset at which the last `count` lines of the open file start, reading it backwards."""
    end = handle.seek(0, os.SEEK_END)
    if count <= 0:
        return end
    found = 0
    position = end
    while position > 0:
        start = max(0, position - block_size)
        handle.seek(start)
        block = handle.read(position - start)
        # The file's last byte ends its last line, so a newline there starts no line.
        index = len(block) - 1 if position == end else len(block)
        while (index := block.rfind(b"\n", 0, index)) >= 0:
            found += 1
            if found == count:
                return start + index + 1
        position = start
    return 0


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
