"""ASCII in place of Textual's own Unicode chrome, for terminals whose locale is not UTF-8.

The screens already draw their pictures in ASCII when `AppSettings.ascii_only`
is set. Textual's widgets still draw box-drawing borders, block-element
scroll bars and tab underlines, the header icon, arrow key names in the
footer, the em dash between title and subtitle, and ellipses. Each of these
has its own hook, or none, so this module swaps them at one place: a line
filter that maps every character above 127 in each rendered line to ASCII
of the same cell width. Boxes become ``+-|``, which is Textual's own
``ascii`` border, so stylesheets need no second set of border rules.

`use_ascii_chrome` also adds the `-ascii` class to the app, for stylesheets
that want another layout in ASCII mode (``.-ascii ConfirmDialog #dialog``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from rich.cells import cell_len
from rich.segment import Segment
from textual.app import App
from textual.color import Color
from textual.filter import LineFilter

ASCII_CLASS = "-ascii"

# Characters whose Unicode name gives no good ASCII stand-in. Box drawing and
# block elements are mapped by name in `_ascii_char`.
_KNOWN = {
    "\u2014": "-",  # em dash, between the header's title and subtitle
    "\u2013": "-",  # en dash
    "\u2026": ".",  # ellipsis, where Textual cuts text to fit
    "\u2022": "*",  # bullet
    "\u25cf": "*",  # black circle
    "\u2b58": "o",  # heavy circle, the header icon
    "\u2190": "<",  # arrows, as the footer shows the arrow keys
    "\u2192": ">",
    "\u2191": "^",
    "\u2193": "v",
    "\u25b2": "^",  # triangles, as in a Select's drop-down arrow
    "\u25bc": "v",
    "\u25b6": ">",
    "\u25c0": "<",
    "\u23ce": "<",  # return symbol, for the enter key
    "\u2713": "v",  # check marks
    "\u2714": "v",
    "\u2717": "x",  # ballot x
    "\u2718": "x",
    "\u2605": "*",  # black star
    "\u2591": ".",  # shades, light to dark
    "\u2592": ":",
    "\u2593": "#",
    "\u00a0": " ",  # no-break space
}


class AsciiOnly(LineFilter):
    """A line filter that replaces every non-ASCII character with ASCII of the same cell width."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        if all(segment.text.isascii() for segment in segments):
            return segments
        return [
            segment if segment.text.isascii() else Segment(to_ascii(segment.text), segment.style, segment.control)
            for segment in segments
        ]


@lru_cache(maxsize=4096)
def to_ascii(text: str) -> str:
    """Return `text` with each non-ASCII character replaced by ASCII that fills the same cells."""
    return "".join(char if char.isascii() else _ascii_char(char) for char in text)


@lru_cache(maxsize=1024)
def _ascii_char(char: str) -> str:
    width = cell_len(char)
    if width == 0:
        return ""
    if char in _KNOWN:
        return _KNOWN[char]

    name = unicodedata.name(char, "")
    if name.startswith("BOX DRAWINGS"):
        return _box_char(name)
    if name.endswith("BLOCK"):
        return _block_char(name)

    # An accented letter becomes its base letter (é becomes e), and anything else becomes "?".
    decomposed = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode("ascii")
    if decomposed and cell_len(decomposed) == width:
        return decomposed
    return "?" * width


def _block_char(name: str) -> str:
    """Map a block element: thin strips to lines, as in tall borders and scroll-bar ends, others to "#"."""
    if name.startswith(("LEFT ", "RIGHT ")) and "FULL" not in name:
        return "|"
    if name.startswith(("LOWER ONE EIGHTH", "LOWER ONE QUARTER")):
        return "_"
    if name.startswith("UPPER ONE EIGHTH"):
        return "-"
    return "#"


def _box_char(name: str) -> str:
    """Map a box-drawing character, by its Unicode name, to the character of Textual's ascii border."""
    words = set(name.split())
    horizontal = bool(words & {"HORIZONTAL", "LEFT", "RIGHT"})
    vertical = bool(words & {"VERTICAL", "UP", "DOWN"})
    if "DIAGONAL UPPER RIGHT TO LOWER LEFT" in name:
        return "/"
    if "DIAGONAL UPPER LEFT TO LOWER RIGHT" in name:
        return "\\"
    if "DIAGONAL CROSS" in name:
        return "X"
    if horizontal and not vertical:
        return "-"
    if vertical and not horizontal:
        return "|"
    return "+"


def use_ascii_chrome(app: App[Any]) -> None:
    """Make `app` draw ASCII only: add the `-ascii` class and filter every rendered line.

    Call it once per app, before or while it runs. Other apps in the same
    process are not affected.
    """
    app.add_class(ASCII_CLASS)
    base_filters = app.get_line_filters
    ascii_filter = AsciiOnly()

    def get_line_filters() -> Sequence[LineFilter]:
        return [*base_filters(), ascii_filter]

    # NOTE: Textual 8 offers no public way to add a line filter, so this
    # instance attribute shadows the public `App.get_line_filters`, which every
    # widget calls (through `Widget.get_line_filters`) to filter its lines.
    app.get_line_filters = get_line_filters  # type: ignore[method-assign]
