"""The results screen at 80x24, and ASCII-only drawing under a locale that is not UTF-8."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from fake_engine import Host, run_async, scripted_events, settle
from terminal import PseudoTerminal
from rich.cells import cell_len
from textual.app import App
from textual.widgets import Static, TabbedContent

from tunescope.core.config import load_experiment
from tunescope.core.report import PENDING, collect, explain_report
from tunescope.core.store import Journal, RunDir
from tunescope.tui.app import TunescopeApp
from tunescope.tui.ascii_chrome import AsciiOnly, to_ascii
from tunescope.tui.screens.results import ResultsScreen
from tunescope.tui.settings import AppSettings
from tunescope.tui.widgets.comparison_table import ComparisonTable
from tunescope.tui.widgets.heat_map import HeatMap

QUICKSTART = Path(__file__).resolve().parents[1] / "sample_configs" / "quickstart.toml"
CTRL_Q = b"\x11"


def results_host(tmp_path: Path, ascii_only: bool = False) -> Host:
    """An app showing the results of the four quickstart tuners, as the fake engine runs them."""
    run_dir = RunDir(tmp_path)
    events = scripted_events(load_experiment(QUICKSTART), run_dir)
    return Host(ResultsScreen(AppSettings(ascii_only=ascii_only), run_dir, events))


def few_trials_host(tmp_path: Path, max_trials: int = 3) -> Host:
    """An app showing the results of one random tuner with `max_trials` trials."""
    run_dir = RunDir(tmp_path)
    quickstart = load_experiment(QUICKSTART)
    tuner = replace(quickstart.tuners[0], max_trials=max_trials)
    events = scripted_events(quickstart.with_tuners((tuner,)), run_dir)
    return Host(ResultsScreen(AppSettings(), run_dir, events))


async def pictures_shown(pilot) -> None:  # type: ignore[no-untyped-def]
    """Wait until the explainability counts, computed by a worker, replace their placeholders."""
    await drawn(pilot)
    table = pilot.app.screen.query_one(ComparisonTable)
    await settle(pilot, lambda: PENDING not in [cell.plain for cell in table.get_row("explainability")])


def finished_run(tmp_path: Path) -> Path:
    """Write the journal of a finished fake study and return its run directory."""
    run_dir = RunDir(tmp_path / "run")
    run_dir.path.mkdir()
    journal = Journal(run_dir.journal)
    for event in scripted_events(load_experiment(QUICKSTART), run_dir):
        journal(event)
    journal.close()
    return run_dir.path


def screen_lines(app: App) -> list[str]:
    # The compositor is private in Textual 8, but it contains the exact cells
    # that the driver sends to the terminal.
    return ["".join(segment.text for segment in strip) for strip in app.screen._compositor.render_strips()]


def non_ascii(lines: list[str]) -> set[str]:
    return {char for line in lines for char in line if ord(char) > 127}


async def drawn(pilot) -> None:  # type: ignore[no-untyped-def]
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


# -- results screen ----------------------------------------------------------------


@run_async
async def test_results_table_fits_80_columns(tmp_path: Path) -> None:
    app = results_host(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await drawn(pilot)
        table = app.screen.query_one(ComparisonTable)

        assert app.screen.query_one(TabbedContent).active == "compare"
        assert table.virtual_size.width <= table.scrollable_content_region.width
        assert table.max_scroll_x == 0
        assert table.row_count == 7


@run_async
async def test_results_legend_names_pictures(tmp_path: Path) -> None:
    app = results_host(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await drawn(pilot)
        legend = str(app.screen.query_one("#legend", Static).render())

        assert "importance" in legend
        assert "heat map" in legend
        assert "bounds per round" in legend
        assert len(legend) <= 78


@run_async
async def test_results_keys_switch_tabs(tmp_path: Path) -> None:
    app = results_host(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await drawn(pilot)
        tabs = app.screen.query_one(TabbedContent)

        await pilot.press("n")
        assert tabs.active == "tuner-0"
        await pilot.press("n")
        assert tabs.active == "tuner-1"
        await pilot.press("b", "b")
        assert tabs.active == "compare"


@run_async
async def test_results_footer_shows_tab_keys(tmp_path: Path) -> None:
    app = results_host(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await drawn(pilot)
        footer = screen_lines(app)[-1]

        assert "n Next tab" in footer
        assert "b Prev tab" in footer


@run_async
async def test_results_rows_line_follows_scroll(tmp_path: Path) -> None:
    app = results_host(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await drawn(pilot)
        await pilot.press("n")
        rows = app.screen.query_one("#rows-0", Static)
        await settle(pilot, lambda: str(rows.render()).startswith("rows 1-"))
        first_view = str(rows.render())

        await pilot.press("pagedown")
        await settle(pilot, lambda: str(rows.render()) != first_view)

        assert "PgUp/PgDn" in first_view
        assert not str(rows.render()).startswith("rows 1-")


@run_async
async def test_results_rows_line_empty_when_all_fit(tmp_path: Path) -> None:
    app = results_host(tmp_path)
    async with app.run_test(size=(120, 60)) as pilot:
        await drawn(pilot)
        await pilot.press("n")
        await pilot.pause()

        assert str(app.screen.query_one("#rows-0", Static).render()) == ""


@run_async
async def test_results_map_pair_off_on_compare(tmp_path: Path) -> None:
    app = results_host(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await drawn(pilot)
        on_compare = app.screen.check_action("next_pair", ())
        await pilot.press("n")

        assert on_compare is None
        assert app.screen.check_action("next_pair", ()) is True


@run_async
async def test_results_tab_shows_best_so_far_curve(tmp_path: Path) -> None:
    app = results_host(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pictures_shown(pilot)
        await pilot.press("n")
        curve = app.screen.query_one("#curve-0", Static)

        assert curve.display
        assert "best val_accuracy so far by trial number" in str(curve.render())


@run_async
async def test_results_map_starts_on_report_pair(tmp_path: Path) -> None:
    app = results_host(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pictures_shown(pilot)
        screen = app.screen
        assert isinstance(screen, ResultsScreen)
        explanations = explain_report(collect(screen.events))

        for index, name in enumerate(screen.tuner_names):
            heat_map = screen.query_one(f"#map-{index}", HeatMap)
            assert heat_map.pair == explanations[name].heat_map_pair, name


@run_async
async def test_results_map_pair_key_cycles(tmp_path: Path) -> None:
    app = results_host(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pictures_shown(pilot)
        await pilot.press("n")
        heat_map = app.screen.query_one("#map-0", HeatMap)
        first = heat_map.pair
        seen = []
        for _ in heat_map.pairs:
            await pilot.press("p")
            seen.append(heat_map.pair)

        assert seen[0] != first
        assert seen[-1] == first
        assert len(set(seen)) == len(heat_map.pairs)


@run_async
async def test_results_unknown_importance_one_line(tmp_path: Path) -> None:
    app = few_trials_host(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pictures_shown(pilot)
        importance = str(app.screen.query_one("#importance-0", Static).render())
        cell = app.screen.query_one(ComparisonTable).get_cell("explainability", "random").plain

        assert importance.startswith("importance: too few trials")
        assert "0.000" not in importance
        assert len(importance.splitlines()) == 1
        # Heat map and best-so-far curve; importance could not be computed.
        assert cell == "2 pictures"
        assert any(line.split() == ["explainability", "2", "pictures"] for line in screen_lines(app))


@run_async
async def test_results_export_shows_paths(tmp_path: Path) -> None:
    app = results_host(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await drawn(pilot)
        await pilot.press("n", "e")
        await pilot.pause()
        exported = str(app.screen.query_one("#exported", Static).render())

        assert app.screen.query_one(TabbedContent).active == "compare"
        assert str(tmp_path) in exported
        assert "summary.md" in exported
        assert (tmp_path / "summary.md").is_file()


# -- ASCII chrome ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("┌──┐", "+--+"),
        ("│╭╮│", "|++|"),
        ("╸━━╺", "----"),
        ("▁▔▏▕", "_-||"),
        ("⭘ a — b…", "o a - b."),
        ("←↑→↓▼⏎", "<^>vv<"),
        ("é", "e"),
        ("ascii only", "ascii only"),
    ],
)
def test_to_ascii_cases(text: str, expected: str) -> None:
    assert to_ascii(text) == expected


def test_to_ascii_keeps_wide_cells() -> None:
    text = "中x"

    assert to_ascii(text) == "??x"
    assert cell_len(to_ascii(text)) == cell_len(text)


def test_ascii_filter_keeps_ascii_segments() -> None:
    from rich.segment import Segment
    from textual.color import Color

    segments = [Segment("plain"), Segment("──")]
    filtered = AsciiOnly().apply(segments, Color(0, 0, 0))

    assert filtered[0] is segments[0]
    assert filtered[1].text == "--"


@run_async
async def test_ascii_app_results_every_tab(tmp_path: Path) -> None:
    app = TunescopeApp(run_dir=finished_run(tmp_path), settings=AppSettings(ascii_only=True))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, ResultsScreen))
        await drawn(pilot)
        tabs = app.screen.query_one(TabbedContent)
        seen = {tabs.active: screen_lines(app)}
        for _ in range(4):
            await pilot.press("n")
            await drawn(pilot)
            seen[tabs.active] = screen_lines(app)

        assert len(seen) == 5
        for tab, lines in seen.items():
            assert non_ascii(lines) == set(), tab


@run_async
async def test_ascii_app_setup_screen(tmp_path: Path) -> None:
    app = TunescopeApp(settings=AppSettings(ascii_only=True))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()

        assert non_ascii(screen_lines(app)) == set()


@run_async
async def test_unicode_app_keeps_header_icon(tmp_path: Path) -> None:
    app = TunescopeApp(settings=AppSettings(ascii_only=False))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()

        assert "⭘" in screen_lines(app)[0]
        assert not app.has_class("-ascii")


def test_c_locale_terminal_gets_ascii_bytes(tmp_path: Path) -> None:
    """Attach to a finished run in a pseudo-terminal under LC_ALL=C; every byte written is ASCII."""
    run_dir = finished_run(tmp_path)
    env = {**os.environ, "TERM": "screen", "LANG": "C", "LC_ALL": "C", "COLUMNS": "80", "LINES": "24"}
    env.pop("LC_CTYPE", None)
    command = [sys.executable, "-m", "tunescope.tui.cli", "attach", str(run_dir)]
    with PseudoTerminal(command, cwd=tmp_path, env=env) as terminal:
        output = terminal.output
        terminal.wait_for(lambda: b"Next tab" in output, 60, "the results screen")
        for _ in range(4):
            terminal.write(b"n")
            time.sleep(0.5)
        terminal.write(CTRL_Q)
        terminal.process.wait(timeout=30)

    assert terminal.process.returncode == 0
    assert [byte for byte in set(output) if byte > 127] == []
