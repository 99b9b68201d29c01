"""Loading a widget's styles from the .tcss file beside its module."""

from __future__ import annotations

from pathlib import Path


def sibling_css(module_file: str) -> str:
    """Return the text of the .tcss file named like `module_file`, for a widget's DEFAULT_CSS.

    Widgets take styles only through DEFAULT_CSS, so each widget reads its
    own file here; Textual then scopes the rules to that widget.
    """
    return Path(module_file).with_suffix(".tcss").read_text(encoding="utf-8")
