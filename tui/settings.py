"""Settings of one app session, handed to each screen, and the engine entry points.

The real engine runs in a child process (`study_process`), so the app's
process never imports TensorFlow. Tests pass a fake engine as
`study_factory`, which the app then runs on a worker thread of its own.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from tunescope.core.config import Experiment
from tunescope.core.events import EventSink
from tunescope.core.store import RunDir

from .study_handle import StudyHandle, StudyLike

StudyFactory = Callable[[Experiment, RunDir, Sequence[EventSink]], StudyLike]


def default_study_factory(experiment: Experiment, run_dir: RunDir, sinks: Sequence[EventSink]) -> StudyLike:
    """Build the real `tunescope.core.study.Study`, importing it only now."""
    from tunescope.core.study import Study

    return Study(experiment, run_dir, sinks)


def default_device_probe() -> str:
    """Describe the training device; imports TensorFlow, so call it from a worker thread."""
    from tunescope.core.study import device_description

    return device_description()


def wants_ascii(environ: Mapping[str, str] | None = None) -> bool:
    """Return whether the terminal's locale is not UTF-8, so that pictures use ASCII only.

    Reads LC_ALL, LC_CTYPE and LANG in the order the C library applies them.
    Python may coerce a C locale to C.UTF-8 and set LC_CTYPE (PEP 538); a
    terminal behind such a locale then counts as UTF-8.
    """
    environ = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_CTYPE", "LANG"):
        value = environ.get(name, "")
        if value:
            return "utf-8" not in value.lower() and "utf8" not in value.lower()
    return True


@dataclass
class AppSettings:
    """The settings and state that every screen of one app session shares."""

    ascii_only: bool = False
    """Draw bars, marks and heat maps with ASCII characters only."""

    keep_running_on_quit: bool = False
    """When the app quits or its terminal closes, let a running study go on headless instead of stopping it."""

    study_factory: StudyFactory | None = None
    """Builds a study to run on a worker thread of the app, from an experiment, its run directory and event sinks.

    None, the default, runs the real engine in a child process instead: a
    study on a thread of the app shares Python's interpreter lock with
    Textual and trains a few percent slower.
    """

    device_probe: Callable[[], str] = default_device_probe
    """Returns the training device's description; called on the worker thread of a `study_factory` study."""

    study: StudyHandle | None = None
    """The study this session started last, if any; quitting checks whether it still runs."""
