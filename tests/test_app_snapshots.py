"""SVG snapshots of the setup and results screens at 80x24 and 120x40, fed by the fake engine.

Update them with `pytest tests/test_app_snapshots.py --snapshot-update` and
look at the changed SVG files before committing them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_engine import Host, scripted_events
from textual.widgets import Input

from tunescope.core.config import load_experiment
from tunescope.core.store import RunDir
from tunescope.tui.app import TunescopeApp
from tunescope.tui.screens.results import ResultsScreen
from tunescope.tui.settings import AppSettings

QUICKSTART = Path(__file__).resolve().parents[1] / "sample_configs" / "quickstart.toml"
SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


@pytest.fixture(autouse=True)
def fixed_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Draw the same colours whatever colour settings the runner's environment has."""
    for name in ("NO_COLOR", "FORCE_COLOR", "TEXTUAL_COLOR_SYSTEM"):
        monkeypatch.delenv(name, raising=False)


def run_dir(tmp_path: Path) -> RunDir:
    """A run directory whose name, the only part the screens show, is fixed."""
    path = tmp_path / "snapshot-run"
    path.mkdir(parents=True)
    return RunDir(path)


async def steady_cursors(pilot) -> None:  # type: ignore[no-untyped-def]
    """Stop the focused field's cursor from blinking, so that each snapshot shows it."""
    await pilot.pause()
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_setup_screen(snap_compare, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    app = TunescopeApp(settings=AppSettings())
    assert snap_compare(app, terminal_size=size, run_before=steady_cursors)


def test_setup_screen_tuners_tab(snap_compare) -> None:  # type: ignore[no-untyped-def]
    """The Tuners tab reached with ctrl+pageup, its first cell focused, at 80x24."""

    async def show_tuners(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("ctrl+pageup")
        await pilot.pause()
        await steady_cursors(pilot)

    app = TunescopeApp(settings=AppSettings())
    assert snap_compare(app, terminal_size=(80, 24), run_before=show_tuners)


@pytest.mark.parametrize("size", SIZES)
def test_results_screen(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    directory = run_dir(tmp_path)
    events = scripted_events(load_experiment(QUICKSTART), directory)
    screen = ResultsScreen(AppSettings(), directory, events)

    async def until_drawn(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(Host(screen), terminal_size=size, run_before=until_drawn)


def test_results_screen_tuner_tab(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory = run_dir(tmp_path)
    events = scripted_events(load_experiment(QUICKSTART), directory)
    screen = ResultsScreen(AppSettings(), directory, events)

    async def first_tuner(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.app.workers.wait_for_complete()
        await pilot.press("n")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(Host(screen), terminal_size=(80, 24), run_before=first_tuner)
