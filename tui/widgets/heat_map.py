"""A heat map of the objective over two hyperparameters, drawn to the widget's width."""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Iterable, Sequence

from rich.color import Color, blend_rgb
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.text import Text
from textual.widget import Widget

from tunescope.core.config import Objective
from tunescope.core.events import TrialFinished
from tunescope.core.explain.ascii import ASCII_EMPTY, ASCII_RAMP, UNICODE_EMPTY, UNICODE_RAMP, format_number, format_value
from tunescope.core.explain.grid import ObjectiveGrid, objective_grid
from tunescope.core.space import SearchSpace

from ._styles import sibling_css

# Cell colours run from worst to best; the ramp character carries the same
# level, so the map reads the same without colour.
_WORST_RGB = Color.parse("#c0392b").get_truecolor()
_MIDDLE_RGB = Color.parse("#d4ac0d").get_truecolor()
_BEST_RGB = Color.parse("#27ae60").get_truecolor()

_MAX_LABEL = 12


def pairs_of(space: SearchSpace) -> list[tuple[str, str | None]]:
    """Return every pair of hyperparameters to map, in space order, or a one-row strip for a single one."""
    names = space.names
    if len(names) == 1:
        return [(names[0], None)]
    return [(x, y) for x, y in itertools.combinations(names, 2)]


def level_of(value: float, low: float, high: float, direction: str, levels: int) -> int:
    """Return the ramp level of `value`: 0 for the worst in [low, high], levels - 1 for the best."""
    if high == low:
        return levels - 1
    goodness = (value - low) / (high - low) if direction == "max" else (high - value) / (high - low)
    return min(max(int(goodness * levels), 0), levels - 1)


def draw_grid(grid: ObjectiveGrid, width: int, ascii_only: bool = False) -> Text:
    """Draw `grid` as coloured text of at most `width` columns (never under 24).

    Each cell is a run of one ramp character, denser for better values;
    the best row of `y` is at the top. A cell without trials shows the
    empty mark.
    """
    width = max(width, 24)
    ramp = ASCII_RAMP if ascii_only else UNICODE_RAMP
    empty = ASCII_EMPTY if ascii_only else UNICODE_EMPTY
    vertical, corner, horizontal = ("|", "+", "-") if ascii_only else ("│", "└", "─")
    n_rows, n_columns = len(grid.best), len(grid.best[0])
    strip = not grid.y

    text = Text()
    title = f"{grid.metric} over {grid.x}" if strip else f"{grid.metric} over {grid.x} (x) and {grid.y} (y)"
    for line in textwrap.wrap(f"{title}: best per cell, {grid.direction} is better", width):
        text.append(line + "\n", style="bold")

    row_labels = [""] if strip else _bin_labels(grid.y_values, grid.y_edges, grid.y_log)
    label_width = max(len(label) for label in row_labels)
    cell_width = max(1, min(4, (width - label_width - 3) // n_columns))

    filled = [value for row in grid.best for value in row if value is not None]
    low, high = (min(filled), max(filled)) if filled else (0.0, 0.0)
    for row_index in reversed(range(n_rows)):
        text.append(f"{row_labels[row_index]:>{label_width}} {vertical}", style="dim")
        for value in grid.best[row_index]:
            if value is None:
                text.append(empty * cell_width, style="dim")
                continue
            level = level_of(value, low, high, grid.direction, len(ramp))
            text.append(ramp[level] * cell_width, style=_level_style(level, len(ramp)))
        text.append(f"{vertical}\n", style="dim")

    plot_start = label_width + 2
    plot_width = n_columns * cell_width
    text.append(" " * (plot_start - 1) + corner + horizontal * plot_width + "\n", style="dim")
    text.append(_x_ticks(grid, plot_start, plot_width, cell_width) + "\n", style="dim")
    x_name = f"{grid.x} (log)" if grid.x_log else grid.x
    if not strip and grid.y_log:
        x_name += f", {grid.y} (log)"
    text.append(" " * max(plot_start + (plot_width - len(x_name)) // 2, 0) + x_name + "\n")

    if not filled:
        text.append(f"{empty} = no trial; no completed trial has values for this pair yet", style="dim")
        return text
    worst, best = (low, high) if grid.direction == "max" else (high, low)
    text.append("scale: worst ")
    for level, character in enumerate(ramp):
        text.append(character, style=_level_style(level, len(ramp)))
    text.append(" best\n")
    numbers = f"worst {format_number(worst, digits=4)}, best {format_number(best, digits=4)}, {empty} no trial"
    text.append("\n".join(textwrap.wrap(numbers, width)), style="dim")
    return text


def _level_style(level: int, levels: int) -> str:
    position = level / max(levels - 1, 1)
    if position < 0.5:
        rgb = blend_rgb(_WORST_RGB, _MIDDLE_RGB, position * 2)
    else:
        rgb = blend_rgb(_MIDDLE_RGB, _BEST_RGB, (position - 0.5) * 2)
    return Color.from_triplet(rgb).name


def _bin_labels(values: Sequence[object], edges: Sequence[float], log: bool) -> list[str]:
    if values:
        labels = [format_value(value) for value in values]  # type: ignore[arg-type]
    else:
        labels = [format_number(low, log) for low, _ in itertools.pairwise(edges)]
    return [label if len(label) <= _MAX_LABEL else label[: _MAX_LABEL - 1] + "~" for label in labels]


def _x_ticks(grid: ObjectiveGrid, plot_start: int, plot_width: int, cell_width: int) -> str:
    """Label the x axis: each value under its column when they fit, else the two ends."""
    line = [" "] * (plot_start + plot_width + _MAX_LABEL)
    if grid.x_values:
        labels = [format_value(value) for value in grid.x_values]
        if all(len(label) < cell_width for label in labels):
            for index, label in enumerate(labels):
                start = plot_start + index * cell_width
                line[start : start + len(label)] = label
            return "".join(line).rstrip()
        ends = [labels[0], labels[-1]]
    else:
        ends = [format_number(grid.x_edges[0], grid.x_log), format_number(grid.x_edges[-1], grid.x_log)]
    line[plot_start : plot_start + len(ends[0])] = ends[0]
    right = max(plot_start + plot_width - len(ends[1]), plot_start + len(ends[0]) + 1)
    line[right : right + len(ends[1])] = ends[1]
    return "".join(line).rstrip()


class HeatMap(Widget):
    """The objective of the landed trials over one pair of hyperparameters at a time.

    `next_pair` cycles the pair and `next_tuner` the tuner whose trials it
    shows (None for every tuner). The grid is computed by
    `tunescope.core.explain.grid.objective_grid` when the pair or tuner
    changes, and for landed trials when `show_changes` is called, not on
    every repaint and not per trial.
    """

    DEFAULT_CSS = sibling_css(__file__)

    def __init__(self, ascii_only: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.ascii_only = ascii_only
        self.space: SearchSpace | None = None
        self.objective: Objective | None = None
        self.trials: list[TrialFinished] = []
        self.pairs: list[tuple[str, str | None]] = []
        self.pair_index = 0
        self.tuner: str | None = None
        self._grid: ObjectiveGrid | None = None
        self._problem = "waiting for the study to start"
        self._stale = False
        self._height = 0

    def configure(self, space: SearchSpace, objective: Objective, trials: Iterable[TrialFinished] = (), tuner: str | None = None) -> None:
        self.space, self.objective = space, objective
        self.pairs = pairs_of(space)
        self.pair_index = 0
        self.tuner = tuner
        self.trials = list(trials)
        self._recompute()

    def add_trial(self, trial: TrialFinished) -> None:
        """Keep a landed trial; the map shows it at the next `show_changes`."""
        self.trials.append(trial)
        if self.tuner is None or trial.tuner == self.tuner:
            self._stale = True

    def show_changes(self) -> None:
        """Recompute and redraw the map if trials landed since the last call and the map is on screen.

        On a narrow screen the map is hidden until the person presses m,
        and `on_show` then catches up.
        """
        if self._stale and self.is_on_screen:
            self._recompute()

    def on_show(self) -> None:
        if self._stale:
            self._recompute()

    def next_pair(self) -> None:
        if self.pairs:
            self.pair_index = (self.pair_index + 1) % len(self.pairs)
            self._recompute()

    def show_pair(self, x: str, y: str | None) -> None:
        """Show the map over `x` and `y`, from where `next_pair` then cycles on.

        A pair listed the other way round is turned, so that `x` is the x
        axis. A pair not listed, such as a strip over the one hyperparameter
        that varies in a larger space, is added in front.
        """
        if (x, y) in self.pairs:
            self.pair_index = self.pairs.index((x, y))
        elif y is not None and (y, x) in self.pairs:
            self.pair_index = self.pairs.index((y, x))
            self.pairs[self.pair_index] = (x, y)
        else:
            self.pairs.insert(0, (x, y))
            self.pair_index = 0
        self._recompute()

    def next_tuner(self) -> None:
        tuners = list(dict.fromkeys(trial.tuner for trial in self.trials))
        choices: list[str | None] = [None, *tuners]
        position = choices.index(self.tuner) if self.tuner in choices else 0
        self.tuner = choices[(position + 1) % len(choices)]
        self._recompute()

    @property
    def pair(self) -> tuple[str, str | None] | None:
        return self.pairs[self.pair_index] if self.pairs else None

    def _recompute(self) -> None:
        self._grid = None
        if self.space is None or self.objective is None:
            self._problem = "waiting for the study to start"
        elif not self.pairs:
            self._problem = "the search space has no hyperparameters to map"
        else:
            x, y = self.pairs[self.pair_index]
            trials = [t for t in self.trials if self.tuner is None or t.tuner == self.tuner]
            self._grid = objective_grid(trials, self.space, x, y, self.objective)
        self._stale = False

        # A layout of the whole screen is needed only when the map's height
        # changes, which it rarely does within one pair.
        height = self._text_height()
        self.refresh(layout=height != self._height)
        self._height = height

    def _text_height(self) -> int:
        if self._grid is None:
            return 1
        width = max(self.content_size.width, 1)
        return 1 + len(draw_grid(self._grid, width, self.ascii_only).plain.splitlines())

    def render(self) -> RenderableType:
        if self._grid is None:
            return Text(self._problem, style="dim")
        scope = "all tuners" if self.tuner is None else self.tuner
        caption = f"{scope}, pair {self.pair_index + 1} of {len(self.pairs)}"
        return _GridPicture(self._grid, caption, self.ascii_only)


class _GridPicture:
    """A grid drawn at the width Rich offers, so the map reflows when the widget resizes."""

    def __init__(self, grid: ObjectiveGrid, caption: str, ascii_only: bool) -> None:
        self.grid = grid
        self.caption = caption
        self.ascii_only = ascii_only

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        text = Text()
        text.append(self.caption + "\n", style="italic")
        text.append_text(draw_grid(self.grid, options.max_width, self.ascii_only))
        text.no_wrap = True
        text.overflow = "crop"
        yield text
