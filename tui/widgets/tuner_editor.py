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

    def __init__(self, item: Mapping[str, Any] | None = None) -> None:
        super().__init__(item)
        # Keys without a column of their own are edited in the settings
        # field, so none is kept out of sight.
        self.extra = {}

    def make_controls(self, item: Mapping[str, Any]) -> dict[str, Widget]:
        kind = item.get("type", "random")
        settings = {key: value for key, value in item.items() if key not in self.FIELDS}
        return {
            "type": Input(
                field_text(kind), placeholder="random, bayesian, ...", suggester=SuggestFromList(TUNER_TYPES), compact=True, classes="field-type"
            ),
            "name": Input(field_text(item.get("name")), placeholder=str(kind), compact=True, classes="field-name"),
            "max_trials": Input(field_text(item.get("max_trials")), placeholder="budget", compact=True, classes="field-max_trials"),
            "epochs": Input(field_text(item.get("epochs")), placeholder="budget", compact=True, classes="field-epochs"),
            "settings": Input(settings_text(settings), placeholder=SETTINGS_HINTS.get(str(kind), ""), compact=True, classes="field-settings"),
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

    def _text(self, name: str) -> str:
        control = self.controls[name]
        assert isinstance(control, Input)
        return control.value

    def item(self) -> dict[str, Any]:
        """Return the row as a [[tuners]] table.

        Raises `SettingsSyntaxError` when the settings field is not a list of
        ``key = value`` pairs.
        """
        name = self._text("name").strip()
        item: dict[str, Any] = {
            "type": self._text("type").strip() or None,
            "name": name or None,
            "max_trials": typed_value(self._text("max_trials")),
            "epochs": typed_value(self._text("epochs")),
        }
        for key, value in settings_value(self._text("settings")).items():
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

    def new_row(self, item: Mapping[str, Any] | None = None) -> TunerRow:
        return TunerRow(item)


__all__ = ["SETTINGS_HINTS", "SettingsSyntaxError", "TunerEditor", "TunerRow"]
