"""SVG snapshots of the run screen in the middle of a study, at 80x24 and 120x40.

The fake engine pauses after the first epoch of the third trial, and the
screen's clock is fixed, so the time-left estimates, the table and the
log pane read the same on every run. Update the snapshots with
`pytest tests/test_app_run_snapshot.py --snapshot-update` and look at the
changed SVG files before committing them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_engine import DEVICE, FakeStudy, Host, fake_factory, settle, small_experiment

from tunescope.core.store import RunDir
from tunescope.tui.screens.run import RunScreen
from tunescope.tui.settings import AppSettings
from tunescope.tui.widgets.trial_table import TrialTable

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


@pytest.fixture(autouse=True)
def fixed_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Draw the same colours whatever colour settings the runner's environment has."""
    for name in ("NO_COLOR", "FORCE_COLOR", "TEXTUAL_COLOR_SYSTEM"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def warnings_only() -> Iterator[None]:
    """Keep INFO records that other tests enable for the package out of the log pane."""
    package = logging.getLogger("tunescope")
    level = package.level
    package.setLevel(logging.WARNING)
    yield
    package.setLevel(level)


def paused_screen(tmp_path: Path, studies: list[FakeStudy]) -> RunScreen:
    settings = AppSettings(study_factory=fake_factory(studies, pause_in_trial=3), device_probe=lambda: DEVICE)
    path = tmp_path / "snapshot-run"
    path.mkdir()
    return RunScreen.live(settings, small_experiment(), RunDir(path), clock=lambda: 0.0)


@pytest.mark.parametrize("size", SIZES)
def test_run_screen(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    studies: list[FakeStudy] = []
    screen = paused_screen(tmp_path, studies)

    async def until_paused(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot, lambda: bool(studies) and studies[0].paused.is_set())
        table = screen.query_one(TrialTable)
        await settle(pilot, lambda: "random/03" in table.records and table.records["random/03"].epoch == 1)
        # Draw now rather than on the screen's timer, then let the cursor
        # and the scroll position that follow it settle.
        screen.show_changes()
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()

    assert snap_compare(Host(screen, studies), terminal_size=size, run_before=until_paused)
