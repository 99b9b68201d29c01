"""AiSara's current search-space bounds, from its latest finished round."""

from __future__ import annotations

import math

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from tunescope.core.events import RoundFinished
from tunescope.core.explain.ascii import format_number

from ._styles import sibling_css


def _interval(pair: list[float] | None, log: bool) -> str:
    if not pair or len(pair) != 2:
        return "-"
    return f"{format_number(pair[0], log)}..{format_number(pair[1], log)}"


class BoundsPanel(Static):
    """For each AiSara tuner: the bounds its last round searched, the next round's, and impacts."""

    DEFAULT_CSS = sibling_css(__file__)

    def __init__(self, id: str | None = None) -> None:
        super().__init__("No AiSara round has finished yet.", id=id)
        self.rounds: dict[str, RoundFinished] = {}
        self.log_scale: dict[str, bool] = {}

    def set_log_scale(self, log_scale: dict[str, bool]) -> None:
        self.log_scale = dict(log_scale)

    def round_finished(self, event: RoundFinished) -> None:
        self.rounds[event.tuner] = event
        self.update(self._picture())

    def _picture(self) -> Group:
        parts = []
        for event in self.rounds.values():
            trend = "shrinking" if event.shrinking else "widening"
            parts.append(Text(f"{event.tuner}: round {event.round} done, next bounds {trend}", style="bold"))
            table = Table(box=None, padding=(0, 1), show_edge=False, header_style="dim")
            table.add_column("name", no_wrap=True, overflow="ellipsis", max_width=16)
            table.add_column("searched", overflow="fold")
            table.add_column("next", overflow="fold")
            table.add_column("impact", justify="right", no_wrap=True, min_width=6)
            for name, bounds in event.bounds.items():
                log = self.log_scale.get(name, False)
                impact = event.impacts.get(name)
                impact_text = "-" if impact is None or not math.isfinite(impact) else f"{impact:.2f}"
                table.add_row(name, _interval(bounds, log), _interval(event.next_bounds.get(name), log), impact_text)
            parts.append(table)
        return Group(*parts)
