"""The comparison of the tuners: one row per measure, one column per tuner."""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable

from ._styles import sibling_css


class ComparisonTable(DataTable[Any]):
    """The rows of `tunescope.core.report.comparison_rows`, as the Markdown report has them."""

    DEFAULT_CSS = sibling_css(__file__)

    def __init__(self, rows: list[tuple[str, dict[str, str]]], id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="none", zebra_stripes=True)
        self._rows = rows

    def on_mount(self) -> None:
        self._fill()

    def update_rows(self, rows: list[tuple[str, dict[str, str]]]) -> None:
        """Rebuild the table with new rows, such as the explainability counts once computed."""
        self._rows = rows
        self.clear(columns=True)
        self._fill()

    def _fill(self) -> None:
        tuners: list[str] = []
        for _, cells in self._rows:
            for name in cells:
                if name not in tuners:
                    tuners.append(name)
        # Explicit widths take effect at once. Measured widths are set when the
        # table is next idle, and in Textual 8.2.8 a table whose cells change
        # after mounting is not redrawn then, so a wider cell stays cropped.
        measures = [measure for measure, _ in self._rows]
        self.add_column("measure", key="measure", width=max(map(cell_len, ["measure", *measures])))
        for name in tuners:
            cells = [row.get(name, "") for _, row in self._rows]
            self.add_column(name, key=name, width=max(map(cell_len, [name, *cells])))
        for measure, cells in self._rows:
            values = [Text(cells.get(name, ""), no_wrap=True) for name in tuners]
            self.add_row(Text(measure, style="bold"), *values, key=measure)

