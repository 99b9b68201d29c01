"""The comparison of the tuners: one row per measure, one column per tuner."""

from __future__ import annotations

from typing import Any

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
        tuners: list[str] = []
        for _, cells in self._rows:
            for name in cells:
                if name not in tuners:
                    tuners.append(name)
        self.add_column("measure", key="measure")
        for name in tuners:
            self.add_column(name, key=name)
        for measure, cells in self._rows:
            values = [Text(cells.get(name, ""), no_wrap=True) for name in tuners]
            self.add_row(Text(measure, style="bold"), *values, key=measure)
