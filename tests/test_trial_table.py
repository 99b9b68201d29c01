"""The trial table on its own: rows, cursor, keys, clicks, sorting and what it redraws."""

from __future__ import annotations

from typing import Any

import pytest
from fake_engine import run_async
from textual.app import App, ComposeResult
from textual.geometry import Region, Size

from tunescope.core.events import COMPLETED, EpochEnded, TrialFinished, TrialStarted
from tunescope.tui.widgets.trial_table import TrialTable

# Header plus 9 rows of trials fit in the table at this height.
TABLE_HEIGHT = 10


class TableApp(App[None]):
    CSS = f"TrialTable {{ height: {TABLE_HEIGHT}; }}"

    def __init__(self) -> None:
        super().__init__()
        self.highlighted: list[str] = []

    def compose(self) -> ComposeResult:
        yield TrialTable(metric="val_accuracy")

    def on_trial_table_row_highlighted(self, message: TrialTable.RowHighlighted) -> None:
        self.highlighted.append(message.key)


def start(table: TrialTable, number: int, tuner: str = "random") -> str:
    table.trial_started(TrialStarted(tuner, f"{number:02d}", number, {"units": number}, epochs=3))
    return f"{tuner}/{number:02d}"


def finish(table: TrialTable, number: int, objective: float, tuner: str = "random") -> None:
    table.trial_finished(TrialFinished(tuner, f"{number:02d}", number, COMPLETED, {"units": number}, objective=objective, epochs=3))


async def add_rows(pilot: Any, table: TrialTable, count: int) -> list[str]:
    keys = [start(table, number) for number in range(1, count + 1)]
    table.show_changes()
    await pilot.pause()
    return keys


def shown_lines(table: TrialTable) -> list[str]:
    return [table.render_line(y).text.rstrip() for y in range(table.size.height)]


def painted_lines(table: TrialTable) -> list[str]:
    """Return the lines as Textual paints them, from its line cache where nothing asked for a repaint."""
    return [strip.text.rstrip() for strip in table.render_lines(Region(0, 0, table.size.width, table.size.height))]


@run_async
async def test_rows_in_arrival_order() -> None:
    app = TableApp()
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(TrialTable)
        table.set_objective("val_accuracy", "max")
        await add_rows(pilot, table, 3)
        lines = shown_lines(table)
        assert lines[0].split()[:3] == ["tuner", "#", "status"]
        assert "val_accuracy" in lines[0]
        assert [line.split()[1] for line in lines[1:4]] == ["1", "2", "3"]
        assert lines[4] == ""
        assert table.row_count == 3


@run_async
async def test_cursor_follows_new_rows() -> None:
    app = TableApp()
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(TrialTable)
        table.focus()
        keys = await add_rows(pilot, table, 3)
        assert table.highlighted_record is not None and table.highlighted_record.key == keys[-1]

        await pilot.press("up")
        assert table.cursor_row == 1
        start(table, 4)
        table.show_changes()
        await pilot.pause()
        # The person moved the cursor, so a new row does not take it away.
        assert table.cursor_row == 1
        assert app.highlighted[-1] == keys[1]


@run_async
async def test_keys_move_cursor_into_view() -> None:
    app = TableApp()
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(TrialTable)
        table.focus()
        await add_rows(pilot, table, 25)
        assert table.cursor_row == 24
        # The last row is on the table's last line.
        assert shown_lines(table)[-1].split()[1] == "25"

        await pilot.press("home")
        assert table.cursor_row == 0
        assert table.scroll_offset.y == 0
        await pilot.press("down", "down")
        assert table.cursor_row == 2
        await pilot.press("pagedown")
        assert table.cursor_row == 2 + TABLE_HEIGHT - 2
        assert table.scroll_offset.y > 0
        await pilot.press("end")
        assert table.cursor_row == 24
        await pilot.press("up")
        assert table.highlighted_record is not None and table.highlighted_record.number == 24
        await pilot.press("pageup", "pageup", "pageup", "pageup")
        assert table.cursor_row == 0
        assert app.highlighted[-1] == "random/01"


@run_async
async def test_click_selects_row() -> None:
    app = TableApp()
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(TrialTable)
        await add_rows(pilot, table, 5)
        await pilot.click(TrialTable, offset=(5, 2))
        assert table.cursor_row == 1
        assert app.highlighted[-1] == "random/02"
        # A click on the header selects no row.
        await pilot.click(TrialTable, offset=(5, 0))
        assert table.cursor_row == 1


@run_async
async def test_sort_keeps_cursor_trial() -> None:
    app = TableApp()
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(TrialTable)
        await add_rows(pilot, table, 4)
        for number, objective in ((1, 0.5), (2, 0.9), (3, 0.7)):
            finish(table, number, objective)
        table.move_cursor(2)
        table.action_cycle_sort()
        await pilot.pause()
        assert table.sort_order == "objective"
        assert table.ordered_keys == ["random/02", "random/03", "random/01", "random/04"]
        assert table.highlighted_record is not None and table.highlighted_record.key == "random/03"
        assert [line.split()[1] for line in shown_lines(table)[1:5]] == ["2", "3", "1", "4"]


@run_async
async def test_redraws_changed_rows_only() -> None:
    app = TableApp()
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(TrialTable)
        await add_rows(pilot, table, 3)
        shown_lines(table)
        cached = dict(table._strips)
        table.epoch_progressed(EpochEnded("random", "02", 1, 3, {"val_accuracy": 0.6}))
        # An epoch of a trial that ended changes nothing.
        finish(table, 3, 0.8)
        table.epoch_progressed(EpochEnded("random", "03", 2, 3, {"val_accuracy": 0.7}))
        changed = table.show_changes()
        assert changed == {"random/02", "random/03"}
        assert table._strips["random/01"] is cached["random/01"]
        assert "random/02" not in table._strips
        assert "0.6000" in shown_lines(table)[2]
        assert table.displayed_field("random/02", "epochs") == "1/3"


@run_async
async def test_virtual_height_grows_on_overflow() -> None:
    """A new virtual size makes Textual lay the whole screen out, so rows that fit leave it alone."""
    app = TableApp()
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(TrialTable)
        width = table.virtual_size.width
        await add_rows(pilot, table, TABLE_HEIGHT - 1)
        assert table.virtual_size == Size(width, TABLE_HEIGHT)
        start(table, TABLE_HEIGHT)
        start(table, TABLE_HEIGHT + 1)
        table.show_changes()
        await pilot.pause()
        assert table.virtual_size == Size(width, TABLE_HEIGHT + 2)


@run_async
async def test_rows_added_together_are_painted() -> None:
    app = TableApp()
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(TrialTable)
        table.focus()
        await add_rows(pilot, table, 1)
        painted_lines(table)
        for number in (2, 3, 4):
            start(table, number)
        table.show_changes()
        await pilot.pause()
        assert [line.split()[1] for line in painted_lines(table)[1:5]] == ["1", "2", "3", "4"]

        # With the cursor moved away, a new row is painted too.
        await pilot.press("home")
        start(table, 5)
        table.show_changes()
        await pilot.pause()
        assert painted_lines(table)[5].split()[1] == "5"


@run_async
async def test_click_below_rows_selects_nothing() -> None:
    app = TableApp()
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(TrialTable)
        await add_rows(pilot, table, 3)
        table.move_cursor(0)
        await pilot.click(TrialTable, offset=(5, 6))
        assert table.cursor_row == 0


@run_async
async def test_tuner_sort_keeps_study_order() -> None:
    app = TableApp()
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(TrialTable)
        for number in (1, 2):
            start(table, number, tuner="random")
        for number in (1, 2):
            start(table, number, tuner="bayesian")
        table.show_changes()
        table.action_cycle_sort()
        table.action_cycle_sort()
        await pilot.pause()
        assert table.sort_order == "tuner"
        assert table.ordered_keys == ["random/01", "random/02", "bayesian/01", "bayesian/02"]


@run_async
async def test_cursor_reverse_without_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = TableApp()
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(TrialTable)
        await add_rows(pilot, table, 2)
        assert table.get_component_rich_style("trial-table--cursor").reverse
