"""Plain-text pictures of the explain data: bars, heat maps, line charts.

Every renderer is a pure function of its data object and returns lines of at
most 80 columns with no trailing spaces. `ascii_only=True` draws with ASCII
characters alone, for logs and files; otherwise shade blocks and box
characters are used. No picture relies on colour: a value is carried by the
density of its character.
"""

from __future__ import annotations

import bisect
import math
import textwrap
from collections.abc import Sequence
from itertools import pairwise

from ..space import Value
from .bounds import BoundHistory
from .grid import ObjectiveGrid
from .importance import Importance
from .progress import BestSoFar

MAX_COLUMNS = 80

# Character ramps from worst to best. Neither contains the empty-cell mark.
ASCII_RAMP = ":-=+*#%@"
UNICODE_RAMP = "░▒▓█"
ASCII_EMPTY = "."
UNICODE_EMPTY = "·"

ASCII_MARKERS = "*o+x#@%&"
UNICODE_MARKERS = "●○◆◇■□▲△"

# Eighth blocks for the fractional end of a Unicode bar, indexed by the number of eighths.
_PARTIAL_BLOCKS = " ▏▎▍▌▋▊▉"

# Maximum width of an axis label. Longer choice values are numbered, with a key.
_MAX_LABEL = 16


def format_number(value: float, log: bool = False, digits: int = 3) -> str:
    """Format a value compactly with `digits` significant digits: 0.912, 64, 3.16e-4.

    Log-scale values, and values below 1e-3 or from 1e5 up, use a short
    scientific form without exponent padding (1e-4, not 1.00e-04).
    """
    if value == 0:
        return "0"
    if not math.isfinite(value):
        return str(value)
    if log or not 1e-3 <= abs(value) < 1e5:
        mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
        if "." in mantissa:
            mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{int(exponent)}"
    if abs(value) >= 10**digits:
        return f"{value:.0f}"
    return f"{value:.{digits}g}"


def format_value(value: Value) -> str:
    """Format a hyperparameter value: a number compactly, anything else as text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return format_number(value)
    return str(value)


# ---------------------------------------------------------------- importance


def render_importance(importance: Importance, width: int = 60, ascii_only: bool = False) -> str:
    """Draw one bar per hyperparameter, highest importance first, with its score.

    Unknown importance is drawn as its header line alone, which gives the
    reason, because bars of 0.000 would read as measured scores.
    """
    header = f"importance: {importance.method}, {importance.n_trials} trials"
    lines = textwrap.wrap(header, MAX_COLUMNS)
    ranked = importance.ranked()
    if not ranked:
        lines.append("(the space has no hyperparameters)")
        return _join(lines)
    if not importance.known:
        return _join(lines)

    name_width = min(max(len(name) for name, _ in ranked), _MAX_LABEL)
    score_width = len("0.000")
    bar_width = max(10, min(width, MAX_COLUMNS) - name_width - score_width - 2)
    for name, score in ranked:
        bar = _bar(score, bar_width, ascii_only)
        lines.append(f"{_cut(name, name_width, ascii_only):<{name_width}} {bar} {score:.3f}")
    return _join(lines)


def _bar(fraction: float, width: int, ascii_only: bool) -> str:
    fraction = min(max(fraction, 0.0), 1.0)
    if ascii_only:
        return ("#" * round(fraction * width)).ljust(width)
    full, eighths = divmod(round(fraction * width * 8), 8)
    bar = "█" * full + (_PARTIAL_BLOCKS[eighths] if eighths else "")
    return bar.ljust(width)


# ---------------------------------------------------------------- heat map


def render_grid(grid: ObjectiveGrid, ascii_only: bool = False, which: str = "best") -> str:
    """Draw an objective grid as a heat map, denser characters for better values.

    `which` picks the cell summary: "best" or "mean". Rows run from the highest
    `y` bin at the top to the lowest at the bottom. Choice values that do not
    fit under their column are numbered, with a key below the map.

    NOTE: with more than about 60 x bins the map is wider than 80 columns.
    """
    if which not in ("best", "mean"):
        raise ValueError(f"which must be 'best' or 'mean', got {which!r}")
    matrix = grid.best if which == "best" else grid.mean
    ramp = ASCII_RAMP if ascii_only else UNICODE_RAMP
    empty = ASCII_EMPTY if ascii_only else UNICODE_EMPTY
    vertical, corner, horizontal = ("|", "+", "-") if ascii_only else ("│", "└", "─")
    n_rows, n_columns = len(matrix), len(matrix[0])
    strip = not grid.y

    summary = f"{grid.metric} predicted by a surrogate" if grid.smoothed else f"{which} {grid.metric} per cell"
    axes = grid.x if strip else f"{grid.x} and {grid.y}"
    lines = textwrap.wrap(f"{summary} over {axes} ({grid.direction} is better)", MAX_COLUMNS)

    keys: list[str] = []
    if strip:
        row_labels = [""]
    else:
        row_labels, y_key = _bin_labels(grid.y_values, grid.y_edges, grid.y_log)
        if y_key:
            keys.append(f"{grid.y}: {y_key}")
        lines.extend(textwrap.wrap(_axis_name(grid.y, grid.y_log), MAX_COLUMNS))
    label_width = max(len(label) for label in row_labels)
    room = (MAX_COLUMNS - label_width - 3) // n_columns
    cell_width = max(1, min(4, room))
    if grid.x_values:
        # Widen the columns of a value axis when that makes its labels fit.
        widest = max(len(format_value(v)) for v in grid.x_values)
        if widest + 1 <= room:
            cell_width = max(cell_width, widest + 1)
    plot_start = label_width + 2

    filled = [v for row in matrix for v in row if v is not None]
    low, high = (min(filled), max(filled)) if filled else (0.0, 0.0)
    for row_index in reversed(range(n_rows)):
        cells = []
        for value in matrix[row_index]:
            if value is None:
                cells.append(empty * cell_width)
            else:
                cells.append(ramp[_level(value, low, high, grid.direction, len(ramp))] * cell_width)
        label = row_labels[row_index] if not strip else ""
        lines.append(f"{label:>{label_width}} {vertical}{''.join(cells)}{vertical}")

    lines.append(" " * (plot_start - 1) + corner + horizontal * (n_columns * cell_width))
    tick_line, x_key = _x_ticks(grid, plot_start, cell_width)
    lines.append(tick_line)
    if x_key:
        keys.insert(0, f"{grid.x}: {x_key}")
    name = _axis_name(grid.x, grid.x_log)
    indent = min(max(plot_start + (n_columns * cell_width - len(name)) // 2, 0), max(MAX_COLUMNS - len(name), 0))
    lines.extend(textwrap.wrap(name, MAX_COLUMNS, initial_indent=" " * indent))

    for key in keys:
        lines.extend(textwrap.wrap(key, MAX_COLUMNS, subsequent_indent="  "))
    lines.extend(_grid_legend(grid, filled, low, high, ramp, empty))
    return _join(lines)


def _level(value: float, low: float, high: float, direction: str, n_levels: int) -> int:
    """Return the ramp index of a value: 0 for the worst, n_levels - 1 for the best."""
    if high == low:
        return n_levels - 1
    goodness = (value - low) / (high - low) if direction == "max" else (high - value) / (high - low)
    return min(int(goodness * n_levels), n_levels - 1)


def _axis_name(name: str, log: bool) -> str:
    return f"{name} (log scale)" if log else name


def _bin_labels(values: Sequence[Value], edges: Sequence[float], log: bool) -> tuple[list[str], str]:
    """Return one label per bin and, when values had to be numbered, their key."""
    if not values:
        return [f"{format_number(lo, log)}..{format_number(hi, log)}" for lo, hi in pairwise(edges)], ""

    labels = [format_value(v) for v in values]
    if max(len(label) for label in labels) <= _MAX_LABEL:
        return labels, ""
    numbers = [str(i + 1) for i in range(len(labels))]
    return numbers, _key(labels)


def _key(labels: Sequence[str]) -> str:
    return "  ".join(f"{i + 1}={label}" for i, label in enumerate(labels))


def _x_ticks(grid: ObjectiveGrid, plot_start: int, cell_width: int) -> tuple[str, str]:
    """Return the tick-label line under the x axis and, if values were numbered, their key."""
    n_columns = len(grid.best[0])
    if grid.x_values:
        labels = [format_value(v) for v in grid.x_values]
        for attempt in (labels, [str(i + 1) for i in range(len(labels))]):
            placements = []
            for i, text in enumerate(attempt):
                placements.append((plot_start + i * cell_width + (cell_width - len(text)) // 2, text))
            line, placed = _place(placements)
            if placed == len(attempt):
                return line, "" if attempt is labels else _key(labels)
        # Not even the numbers fit under every column: show what fits.
        return line, _key(labels)

    texts = [format_number(edge, grid.x_log) for edge in grid.x_edges]
    plot_end = plot_start + n_columns * cell_width
    # The two ends go first so that the range always shows, then inner edges where room allows.
    placements = [(plot_start, texts[0]), (plot_end - len(texts[-1]), texts[-1])]
    for i in range(1, len(texts) - 1):
        placements.append((plot_start + i * cell_width - len(texts[i]) // 2, texts[i]))
    line, _ = _place(placements)
    return line, ""


def _place(placements: Sequence[tuple[int, str]]) -> tuple[str, int]:
    """Write labels at their start columns in order, skipping any that would touch another."""
    line = [" "] * MAX_COLUMNS
    placed = 0
    for start, text in placements:
        end = start + len(text)
        if start < 0 or end > MAX_COLUMNS:
            continue
        if any(c != " " for c in line[max(start - 1, 0) : min(end + 1, MAX_COLUMNS)]):
            continue
        line[start:end] = text
        placed += 1
    return "".join(line), placed


def _grid_legend(grid: ObjectiveGrid, filled: list[float], low: float, high: float, ramp: str, empty: str) -> list[str]:
    if not filled:
        return [f'"{empty}" = no trial; no completed trial has values on these axes']
    worst, best = (low, high) if grid.direction == "max" else (high, low)
    worst_text, best_text = _format_apart(worst, best)
    scale = f'worst {worst_text} "{ramp}" best {best_text}'
    if grid.smoothed:
        return textwrap.wrap(f"scale: {scale}", MAX_COLUMNS)
    return textwrap.wrap(f'scale: {scale}, "{empty}" = no trial', MAX_COLUMNS)


# ---------------------------------------------------------------- best so far


def render_best_so_far(
    series: Sequence[BestSoFar],
    width: int = 60,
    height: int = 10,
    by: str = "trial",
    ascii_only: bool = False,
) -> str:
    """Draw best-so-far curves of several tuners in one chart, one marker per tuner.

    `by` is "trial" (x = trial number) or "time" (x = seconds since the
    tuner's start). Each column shows each curve's value at that x; where
    curves meet, the later tuner in `series` is drawn on top.
    """
    if by not in ("trial", "time"):
        raise ValueError(f"by must be 'trial' or 'time', got {by!r}")
    markers = ASCII_MARKERS if ascii_only else UNICODE_MARKERS
    vertical, corner, horizontal = ("|", "+", "-") if ascii_only else ("│", "└", "─")

    curves = [[(float(x), v) for x, v in (s.by_trial if by == "trial" else s.by_time)] for s in series]
    metric = series[0].metric if series else "objective"
    direction = series[0].direction if series else "max"
    x_name = "trial number" if by == "trial" else "seconds since start"
    lines = textwrap.wrap(f"best {metric} so far by {x_name}, {direction} is better", MAX_COLUMNS)
    if not any(curves):
        lines.append("(no completed trials yet)")
        return _join(lines)

    xs = [x for curve in curves for x, _ in curve]
    ys = [y for curve in curves for _, y in curve]
    x_low = 0.0 if by == "time" else min(xs)
    x_high = max(xs)
    y_low, y_high = min(ys), max(ys)

    height = max(height, 2)
    label_rows = [0, height - 1] + ([(height - 1) // 2] if height >= 5 else [])
    digits = _digits_for_range(y_low, y_high)
    y_labels = {}
    for row in label_rows:
        y_labels[row] = format_number(y_high - (y_high - y_low) * row / (height - 1), digits=digits)
    label_width = max(len(label) for label in y_labels.values())
    plot_width = max(10, min(width, MAX_COLUMNS - label_width - 2))

    canvas = [[" "] * plot_width for _ in range(height)]
    for index, curve in enumerate(curves):
        if not curve:
            continue
        curve_xs = [x for x, _ in curve]
        for column in range(plot_width):
            x = x_low + (x_high - x_low) * column / (plot_width - 1)
            # The curve is a step function: the value of the last trial at or before x.
            position = bisect.bisect_right(curve_xs, x + 1e-9 * max(1.0, abs(x))) - 1
            if position < 0:
                continue
            value = curve[position][1]
            level = 0.5 if y_high == y_low else (value - y_low) / (y_high - y_low)
            row = height - 1 - round(level * (height - 1))
            canvas[row][column] = markers[index % len(markers)]

    for row in range(height):
        lines.append(f"{y_labels.get(row, ''):>{label_width}} {vertical}{''.join(canvas[row])}")
    lines.append(" " * (label_width + 1) + corner + horizontal * plot_width)

    plot_start = label_width + 2
    unit = "s" if by == "time" else ""
    left = format_number(x_low) + unit
    right = format_number(x_high) + unit
    ticks, _ = _place([(plot_start, left), (plot_start + plot_width - len(right), right)])
    lines.append(ticks)
    lines.append(" " * (plot_start + max((plot_width - len(x_name)) // 2, 0)) + x_name)

    entries = []
    for index, item in enumerate(series):
        best = "no completed trial" if item.best is None else f"best {format_number(item.best, digits=4)}"
        entries.append(f"{markers[index % len(markers)]} {item.tuner} ({best})")
    lines.extend(textwrap.wrap("   ".join(entries), MAX_COLUMNS))
    return _join(lines)


# ---------------------------------------------------------------- bound history


def render_bound_history(history: BoundHistory, ascii_only: bool = False) -> str:
    """Draw, per hyperparameter, one bar per round: the bounds searched over the full range."""
    vertical = "|" if ascii_only else "│"
    inside, outside = ("#", " ") if ascii_only else ("█", "─")
    title = f"bounds searched per round by {history.tuner or 'the tuner'}, each bar over the full range"
    lines = textwrap.wrap(title, MAX_COLUMNS)
    if not history.rounds or not history.bounds:
        lines.append("(no rounds recorded)")
        return _join(lines)

    round_labels = [f"round {number}" for number in history.rounds]
    label_width = max(len(label) for label in round_labels)
    numbers = {}
    for name, per_round in history.bounds.items():
        log = history.log_scale.get(name, False)
        numbers[name] = [_interval_text(lo, hi, log) for lo, hi in per_round]
    # One column width for all hyperparameters, so the bars and impacts line up.
    numbers_width = max(len(text) for texts in numbers.values() for text in texts)
    fixed = 2 + label_width + 1 + 2 + 1 + numbers_width + 2 + len("impact 0.00")
    bar_width = max(10, min(30, MAX_COLUMNS - fixed))

    for name, per_round in history.bounds.items():
        log = history.log_scale.get(name, False)
        low, high = history.ranges.get(name, _span(per_round))
        heading = f"{_axis_name(name, log)}, full range {_interval_text(low, high, log)}"
        lines.extend(textwrap.wrap(heading, MAX_COLUMNS))

        impacts = ["impact " + ("n/a" if math.isnan(v) else f"{v:.2f}") for v in history.impacts.get(name, ())]
        impacts += [""] * (len(per_round) - len(impacts))
        for label, (lo, hi), text, impact in zip(round_labels, per_round, numbers[name], impacts):
            bar = _interval_bar(lo, hi, low, high, log, bar_width, inside, outside)
            lines.append(f"  {label:<{label_width}} {vertical}{bar}{vertical} {text:<{numbers_width}}  {impact}")
    return _join(lines)


def _interval_text(low: float, high: float, log: bool) -> str:
    return f"{format_number(low, log)} .. {format_number(high, log)}"


def _span(per_round: Sequence[tuple[float, float]]) -> tuple[float, float]:
    return min(lo for lo, _ in per_round), max(hi for _, hi in per_round)


def _interval_bar(
    lo: float, hi: float, low: float, high: float, log: bool, width: int, inside: str, outside: str
) -> str:
    """Mark [lo, hi] on a bar of `width` characters that spans [low, high]."""

    def unit(value: float) -> float:
        if high == low:
            return 0.0
        if log and min(value, low, high) > 0:
            return (math.log10(value) - math.log10(low)) / (math.log10(high) - math.log10(low))
        return (value - low) / (high - low)

    start = min(max(math.floor(unit(lo) * width + 1e-9), 0), width - 1)
    end = min(max(math.ceil(unit(hi) * width - 1e-9), start + 1), width)
    return outside * start + inside * (end - start) + outside * (width - end)


# ---------------------------------------------------------------- shared


def _digits_for_range(a: float, b: float, least: int = 4, most: int = 8) -> int:
    """Return the significant digits, from `least` to `most`, that show the difference of `a` and `b`.

    Two digits of the difference survive: for -123456 and -123417 that takes 6.
    """
    largest = max(abs(a), abs(b))
    difference = abs(a - b)
    if largest == 0 or difference == 0 or not math.isfinite(largest + difference):
        return least
    digits = math.floor(math.log10(largest)) - math.floor(math.log10(difference)) + 2
    return min(max(digits, least), most)


def _format_apart(a: float, b: float) -> tuple[str, str]:
    digits = _digits_for_range(a, b)
    return format_number(a, digits=digits), format_number(b, digits=digits)


def _cut(text: str, width: int, ascii_only: bool) -> str:
    if len(text) <= width:
        return text
    return text[: width - 1] + ("~" if ascii_only else "…")


def _join(lines: Sequence[str]) -> str:
    return "\n".join(line.rstrip() for line in lines)
