"""Experiment TOML written from the setup form's values, and read back into it.

The form validates itself by writing its values as experiment TOML and
passing that text to `parse_experiment`, so a person gets exactly the
messages that the config loader gives for a file. A field's text becomes the
TOML value it reads as (``10`` an integer, ``0.2`` a float, ``"x"`` or bare
``x`` a string), so a word typed into a number field reaches the loader as a
string and gets the loader's own "expected an integer" message.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from typing import Any

# Tables in the order an experiment file lists them.
TABLE_ORDER = ("experiment", "dataset", "model", "objective", "budget", "training")
ARRAY_ORDER = ("space", "tuners")


def toml_value(value: Any) -> str:
    """Format a Python value as a TOML value (string, number, boolean or array)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        # A JSON string is a valid TOML basic string.
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} {value!r} as a TOML value")


def experiment_text(tables: Mapping[str, Any]) -> str:
    """Write experiment TOML from plain tables.

    `tables` maps "experiment", "dataset", "model", "objective", "budget" and "training"
    to dicts of key to value, and "space" and "tuners" to lists of such dicts.
    A key whose value is None is left out, and so is an empty table.
    """
    blocks: list[str] = []
    for name in TABLE_ORDER:
        table = _present(tables.get(name) or {})
        if table:
            blocks.append(_table_block(f"[{name}]", table))
    for name in ARRAY_ORDER:
        for item in tables.get(name) or []:
            blocks.append(_table_block(f"[[{name}]]", _present(item)))
    return "\n\n".join(blocks) + "\n"


def _present(table: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in table.items() if value is not None}


def _table_block(header: str, table: Mapping[str, Any]) -> str:
    lines = [header]
    for key, value in table.items():
        lines.append(f"{_toml_key(key)} = {toml_value(value)}")
    return "\n".join(lines)


def _toml_key(key: str) -> str:
    if key and all(c.isalnum() or c in "_-" for c in key):
        return key
    return toml_value(key)


def typed_value(text: str) -> Any:
    """Read a field's text as the TOML value it spells, or as a plain string.

    Returns None for an empty field, so that its key is left out and the
    loader applies its default or reports the key as missing.
    """
    text = text.strip()
    if not text:
        return None
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def list_value(text: str) -> Any:
    """Read a list field such as ``relu, tanh`` or ``[16, 32]``.

    Items that are not TOML values are taken as bare strings, so both
    ``relu, tanh`` and ``"relu", "tanh"`` give ``["relu", "tanh"]``.
    Returns None for an empty field.
    """
    text = text.strip()
    if not text:
        return None
    inner = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    try:
        return tomllib.loads(f"value = [{inner}]")["value"]
    except tomllib.TOMLDecodeError:
        return [typed_value(item) for item in inner.split(",") if item.strip()]


class SettingsSyntaxError(ValueError):
    """A tuner's settings field that is not a list of ``key = value`` pairs of TOML values."""


# A word that TOML accepts as a string only in quotes, such as ``x`` in
# ``rounds = x``. The words true, false, inf and nan are TOML values, so
# `_is_toml_value` lets them pass.
_BARE_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


def settings_value(text: str) -> dict[str, Any]:
    """Read a tuner's settings field such as ``factor = 3, hyperband_iterations = 2``.

    Raises `SettingsSyntaxError` when the text is not comma-separated
    ``key = value`` pairs. The message names a pair whose value is an
    unquoted word, because the fix there is to quote the word.
    """
    text = text.strip()
    if not text:
        return {}
    try:
        return dict(tomllib.loads(f"value = {{{text}}}")["value"])
    except tomllib.TOMLDecodeError:
        raise SettingsSyntaxError(_settings_problem(text)) from None


def _settings_problem(text: str) -> str:
    # NOTE: splitting at commas misreads a comma inside an array or a quoted
    # string, but only a pair that fails on its own is named here.
    for pair in text.split(","):
        _, equals, value = pair.partition("=")
        value = value.strip()
        if equals and _BARE_WORD.fullmatch(value) and not _is_toml_value(value):
            return f"{pair.strip()}: {value} is not a TOML value; quote text as {toml_value(value)}"
    return f"{text!r} is not a list of settings; write key = value pairs separated by commas, e.g. factor = 3"


def _is_toml_value(text: str) -> bool:
    try:
        tomllib.loads(f"value = {text}")
    except tomllib.TOMLDecodeError:
        return False
    return True


def field_text(value: Any) -> str:
    """Write a value as a field shows it: strings bare, numbers as TOML, None empty."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return toml_value(value)


def list_text(values: Sequence[Any] | Any) -> str:
    """Write a list as a list field shows it, e.g. ``relu, tanh`` or ``16, 32``."""
    if not isinstance(values, (list, tuple)):
        return field_text(values)
    return ", ".join(_list_item_text(value) for value in values)


def _list_item_text(value: Any) -> str:
    # A string stays bare only where `list_value` reads it back unchanged.
    if isinstance(value, str) and ("," in value or typed_value(value) != value):
        return toml_value(value)
    return field_text(value)


def settings_text(settings: Mapping[str, Any]) -> str:
    """Write tuner settings as the settings field shows them."""
    return ", ".join(f"{_toml_key(key)} = {toml_value(value)}" for key, value in settings.items())
