"""The run directory: config copy, append-only event journal, reports, models.

Layout of one run::

    runs/20261204-101500-quickstart/
        config.toml        the experiment file as given
        journal.jsonl      one JSON event per line, flushed per event
        .lock              held by the process running the study (see `RunLock`)
        trials.csv         reports rebuilt from the journal alone
        summary.csv
        summary.md
        keras_tuner/<tuner>/   each tuner's Keras Tuner project
        best_models/<tuner>.keras
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from .errors import RunDirError
from .events import Event, StudyFinished, TrialFinished, TunerFinished, event_from_dict

logger = logging.getLogger(__name__)

JOURNAL_NAME = "journal.jsonl"
CONFIG_NAME = "config.toml"
LOCK_NAME = ".lock"

# Events after which the journal is fsynced, so a crash costs at most the
# trial in progress.
_SYNC_EVENTS = (TrialFinished, TunerFinished, StudyFinished)


@dataclass(frozen=True)
class RunDir:
    """Paths inside one run directory."""

    path: Path

    @property
    def journal(self) -> Path:
        return self.path / JOURNAL_NAME

    @property
    def config(self) -> Path:
        return self.path / CONFIG_NAME

    @property
    def lock(self) -> Path:
        return self.path / LOCK_NAME

    @property
    def keras_tuner(self) -> Path:
        return self.path / "keras_tuner"

    @property
    def best_models(self) -> Path:
        return self.path / "best_models"

    def report(self, name: str) -> Path:
        return self.path / name


def create_run_dir(name: str, config_text: str, output: Path, out: Path | None = None) -> RunDir:
    """Create a new run directory and copy the experiment file into it.

    With `out`, the run directory is exactly that path, which must not exist
    or be empty; otherwise it is `output/<timestamp>-<name>`. An existing run
    is never overwritten.
    """
    if out is not None:
        path = out
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise RunDirError(f"--out {path}: already exists and is not an empty directory; choose a new path")
    else:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        path = output / f"{stamp}-{name}"
        suffix = 1
        while path.exists():
            suffix += 1
            path = output / f"{stamp}-{name}-{suffix}"
    try:
        path.mkdir(parents=True, exist_ok=True)
        (path / CONFIG_NAME).write_text(config_text, encoding="utf-8")
    except OSError as error:
        raise RunDirError(f"cannot create run directory {path}: {error.strerror}; check the path and its permissions") from None
    return RunDir(path)


def open_run_dir(path: str | Path) -> RunDir:
    """Return the run directory at `path`, or raise `RunDirError` if it is not one."""
    path = Path(path)
    if not path.exists():
        raise RunDirError(
            f"{path}: not found; pass a run directory such as runs/20261204-101500-quickstart "
            "(a study that is starting creates it once its data and model are ready)"
        )
    if not path.is_dir():
        raise RunDirError(f"{path}: not a directory; pass a run directory, not a file")
    run_dir = RunDir(path)
    if not run_dir.journal.is_file():
        raise RunDirError(f"{path}: not a tunescope run directory ({JOURNAL_NAME} is missing); pass the folder that `tunescope run` created")
    return run_dir


class Journal:
    """An append-only JSON-lines event log; use it as an event sink.

    Each event is flushed as it is written; trial, tuner and study ends are
    also fsynced. Writes are serialised, so several threads may emit.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        _drop_torn_tail(path)
        self._file = open(path, "a", encoding="utf-8")

    def __call__(self, event: Event) -> None:
        self.write(event)

    def write(self, event: Event) -> None:
        line = json.dumps(event.to_dict(), default=_json_default, allow_nan=True)
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()
            if isinstance(event, _SYNC_EVENTS):
                os.fsync(self._file.fileno())

    def close(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.flush()
                os.fsync(self._file.fileno())
                self._file.close()


def _drop_torn_tail(path: Path) -> None:
    """Cut a last line that has no newline, left by a process that died mid-write.

    Appending after such a line would glue the next event onto it, and both
    would then be unreadable.
    """
    try:
        with open(path, "rb+") as handle:
            size = handle.seek(0, os.SEEK_END)
            if size == 0:
                return
            handle.seek(size - 1)
            if handle.read(1) == b"\n":
                return
            # Scan back in blocks for the last complete line.
            end = size
            while end > 0:
                start = max(0, end - 65536)
                handle.seek(start)
                newline = handle.read(end - start).rfind(b"\n")
                if newline >= 0:
                    keep = start + newline + 1
                    break
                end = start
            else:
                keep = 0
            handle.truncate(keep)
            handle.flush()
            os.fsync(handle.fileno())
    except FileNotFoundError:
        return
    logger.warning("%s: dropped an incomplete last line (%d bytes) left by an interrupted write", path, size - keep)


def _json_default(value: object) -> object:
    # numpy scalars and paths reach the journal through metrics and settings.
    if hasattr(value, "item"):
        return value.item()  # type: ignore[attr-defined]
    return str(value)


def read_journal(path: Path, skipped: list[int] | None = None) -> list[Event]:
    """Read every event of a journal.

    A torn last line (the process died while writing it) is skipped. A bad
    line elsewhere is skipped too, so one damaged record never hides the
    rest of a run: their line numbers go into `skipped` when it is given,
    and into one logged warning otherwise.
    """
    events: list[Event] = []
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as error:
        raise RunDirError(f"{path}: cannot be read ({error.strerror}); check its permissions") from None
    unreadable: list[int] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        event = _parse_line(line)
        if event is None:
            if number < len(lines):
                unreadable.append(number)
            continue
        events.append(event)
    if skipped is not None:
        skipped.extend(unreadable)
    elif unreadable:
        logger.warning("%s: skipped %d unreadable journal lines (the first is line %d)", path, len(unreadable), unreadable[0])
    return events


def _parse_line(line: str) -> Event | None:
    try:
        return event_from_dict(json.loads(line))
    except (ValueError, KeyError, TypeError):
        return None


class JournalTail:
    """A reader of the events another process appends to a journal, a batch per call, without waiting.

    A line still being written is held back until its newline arrives, and
    nothing after a `StudyFinished` event is read. A journal that does not
    exist yet reads as empty. Not thread-safe: one reader calls `read`.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.finished = False
        self._handle: TextIO | None = None
        self._pending = ""

    def read(self) -> list[Event]:
        """Return the events appended since the last call, oldest first."""
        if self.finished:
            return []
        if self._handle is None:
            try:
                self._handle = open(self.path, encoding="utf-8")
            except FileNotFoundError:
                return []
        events: list[Event] = []
        for line in self._handle:
            self._pending += line
            if not self._pending.endswith("\n"):
                break
            event = _parse_line(self._pending)
            self._pending = ""
            if event is None:
                continue
            events.append(event)
            if isinstance(event, StudyFinished):
                self.close()
                self.finished = True
                break
        return events

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def follow_journal(path: Path, stop: Callable[[], bool], poll_seconds: float = 0.2) -> Iterator[Event]:
    """Yield a journal's events as another process appends them.

    Ends after a `StudyFinished` event, or when `stop()` returns True after
    the journal has been read to its end. A line still being written is
    held back until its newline arrives.
    """
    tail = JournalTail(path)
    try:
        while True:
            events = tail.read()
            yield from events
            if tail.finished:
                return
            if events:
                continue
            if stop():
                return
            time.sleep(poll_seconds)
    finally:
        tail.close()


class RunLock:
    """An exclusive lock on a run directory, held while a process runs its study.

    Two processes appending to one journal would interleave two searches, so
    `tunescope resume` takes this lock before it writes anything. The lock
    is an advisory `flock` on `.lock`, which the kernel releases when the
    holder exits, even after `kill -9`. On platforms without `fcntl` the
    lock is a no-op.
    """

    def __init__(self, run_dir: RunDir) -> None:
        self.run_dir = run_dir
        self._file: Any = None

    def acquire(self) -> None:
        """Take the lock, or raise `RunDirError` naming the process that holds it."""
        try:
            import fcntl
        except ImportError:
            return
        path = self.run_dir.lock
        try:
            handle = open(path, "a+", encoding="utf-8")
        except OSError as error:
            raise RunDirError(f"{path}: cannot be opened ({error.strerror}); check the run directory's permissions") from None
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise RunDirError(
                f"{self.run_dir.path}: another tunescope process (pid {holder}) is running this study; "
                f"wait for it to end, or watch it with `tunescope attach {self.run_dir.path}`"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


@dataclass(frozen=True)
class RunOwner:
    """The process that runs a study, as the lock of its run directory shows it.

    `pid` is the process id written in `.lock` by the last process that took
    the lock, or None where there is none. `alive` is True while a process
    holds the lock, False when none does, and None where the platform has no
    `flock` and so cannot tell.
    """

    pid: int | None
    alive: bool | None


def run_owner(run_dir: RunDir) -> RunOwner:
    """Report whether a process has the lock of `run_dir`, taking it for an instant at most.

    The lock is tried with a shared, non-blocking `flock` that is released
    at once. While another process holds it, the try fails, so the result
    does not depend on whether the pid in the file was reused. A missing
    `.lock` means no process holds it.

    NOTE: a `RunLock.acquire` in another process during that instant fails
    as if a study were running, so callers should not poll more often than
    every few seconds.
    """
    try:
        import fcntl
    except ImportError:
        return RunOwner(None, None)
    try:
        handle = open(run_dir.lock, encoding="utf-8")
    except FileNotFoundError:
        return RunOwner(None, False)
    except OSError as error:
        logger.debug("%s: cannot be opened (%s); the owner of the run is unknown", run_dir.lock, error)
        return RunOwner(None, None)
    with handle:
        text = handle.read().strip()
        pid = int(text) if text.isdigit() else None
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return RunOwner(pid, True)
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return RunOwner(pid, False)
