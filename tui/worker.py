"""Run a study-like job in a worker thread, with Ctrl-C, SIGTERM and SIGHUP handled.

Used by `tunescope run`, `resume` and `bench`: the job is any object with
`run()`, `cancel()` and a `cancelled` property, such as `core.study.Study`.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from tunescope.core.errors import StudyFailed, TunescopeError

logger = logging.getLogger("tunescope")

EXIT_INTERRUPTED = 130


def run_cancellable(study: Any, name: str = "tunescope-study") -> BaseException | None:
    """Run the study in a worker thread; Ctrl-C requests a clean stop.

    The first Ctrl-C (or SIGTERM) stops the study after the current epoch;
    a second one exits at once, losing only the trial in progress, since the
    journal is flushed after every event. SIGHUP, as when an SSH session
    drops, is ignored: the view stops writing if its terminal is gone, and
    the study goes on.
    """
    failure: list[BaseException] = []
    done = threading.Event()

    def target() -> None:
        try:
            study.run()
        except BaseException as error:  # handed to the main thread
            failure.append(error)
        finally:
            done.set()

    # Ctrl-C is handled by a signal handler, not by catching
    # KeyboardInterrupt around Thread.join. On Python 3.11 an interrupted
    # join can mark the still-running worker as finished, and the process
    # would then exit under the running study.
    def on_interrupt(signum: int, frame: object) -> None:
        if study.cancelled:
            logger.warning("stopping now; the trial in progress is lost")
            raise SystemExit(EXIT_INTERRUPTED)
        logger.warning("stopping after the current epoch; press Ctrl-C again to stop at once")
        study.cancel()

    worker = threading.Thread(target=target, name=name, daemon=True)
    previous_int = signal.signal(signal.SIGINT, on_interrupt)
    previous_term = signal.signal(signal.SIGTERM, lambda *_: study.cancel())
    previous_hup = signal.signal(signal.SIGHUP, signal.SIG_IGN) if hasattr(signal, "SIGHUP") else None
    worker.start()
    try:
        while not done.wait(timeout=0.2):
            pass
    finally:
        signal.signal(signal.SIGINT, previous_int)
        signal.signal(signal.SIGTERM, previous_term)
        if previous_hup is not None:
            signal.signal(signal.SIGHUP, previous_hup)

    if not failure:
        return None
    error = failure[0]
    if isinstance(error, TunescopeError):
        return error
    logger.error("the study failed: %s: %s", type(error).__name__, error, exc_info=error)
    return StudyFailed(f"the study failed: {type(error).__name__}: {error}")

