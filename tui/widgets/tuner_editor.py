"""The tuners of the study as an editable table: type, name, budget and settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from textual.suggester import SuggestFromList
from textual.widget import Widget
from textual.widgets import Input

from tunescope.core.config import TUNER_TYPES

from ..experiment_text import SettingsSyntaxError, field_text, settings_text, settings_value, typed_value
from .table_editor import EditorRow, TableEditor

# Example settings per tuner type, shown while the settings field is empty.
SETTINGS_HINTS = {
    "random": "no settings",
    "bayesian": "num_initial_points = 3",
    "hyperband": "factor = 3",
    "grid": "no settings",
    "aisara": "trials_per_round = 5, rounds = 3",
    "aisara-cloud": "trials_per_round = 5, rounds = 3",
}


class TunerRow(EditorRow):
    """One tuner: its type, name, trials and epochs (empty: the budget's), and settings.

    Settings are written as ``key = value`` pairs separated by commas; any key
    the row has no column for, such as batch_size, goes there too.
    """

    FIELDS = ("type", "name", "max_trials", "epochs", "settings")

    @classmethod
    def extra_of(cls, item: Mapping[str, Any]) -> dict[str, Any]:
        # Keys without a column of their own are edited in the settings
        # field, so none is kept out of sight.
        return {}

    @classmethod
    def texts_of(cls, item: Mapping[str, Any]) -> dict[str, str]:
        settings = {key: value for key, value in item.items() if key not in cls.FIELDS}
        texts = {name: field_text(item.get(name)) for name in ("name", "max_trials", "epochs")}
        texts["type"] = field_text(item.get("type", "random"))
        texts["settings"] = settings_text(settings)
        return texts

    def make_controls(self, texts: Mapping[str, str]) -> dict[str, Widget]:
        kind = texts["type"]
        return {
            "type": Input(
                kind, placeholder="random, bayesian, ...", suggester=SuggestFromList(TUNER_TYPES), compact=True, classes="field-type"
            ),
            "name": Input(texts["name"], placeholder=kind, compact=True, classes="field-name"),
            "max_trials": Input(texts["max_trials"], placeholder="budget", compact=True, classes="field-max_trials"),
            "epochs": Input(texts["epochs"], placeholder="budget", compact=True, classes="field-epochs"),
            "settings": Input(texts["settings"], placeholder=SETTINGS_HINTS.get(kind, ""), compact=True, classes="field-settings"),
        }

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input is not self.controls["type"]:
            return
        kind = event.value.strip()
        name = self.controls["name"]
        settings = self.controls["settings"]
        assert isinstance(name, Input) and isinstance(settings, Input)
        name.placeholder = kind
        settings.placeholder = SETTINGS_HINTS.get(kind, "")

    @classmethod
    def item_from(cls, texts: Mapping[str, str], extra: Mapping[str, Any]) -> dict[str, Any]:
        """Return the row as a [[tuners]] table.

        Raises `SettingsSyntaxError` when the settings field is not a list of
        ``key = value`` pairs.
        """
        name = texts["name"].strip()
        item: dict[str, Any] = {
            "type": texts["type"].strip() or None,
            "name": name or None,
            "max_trials": typed_value(texts["max_trials"]),
            "epochs": typed_value(texts["epochs"]),
        }
        for key, value in settings_value(texts["settings"]).items():
            item.setdefault(key, value)
        return item


class TunerEditor(TableEditor):
    """The tuners of the study, one editable row each."""

    HEADERS = (
        ("type", "type"),
        ("name", "name"),
        ("max_trials", "trials"),
        ("epochs", "epochs"),
        ("settings", "settings (key = value, ...)"),
    )
    ADD_LABEL = "Add tuner"
    ROW = TunerRow


__all__ = ["SETTINGS_HINTS", "SettingsSyntaxError", "TunerEditor", "TunerRow"]
