"""The search space as an editable table: a row per hyperparameter."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from textual.suggester import SuggestFromList
from textual.widget import Widget
from textual.widgets import Input

from tunescope.core.space import HP_TYPES

from ..experiment_text import field_text, list_text, list_value, typed_value
from .table_editor import EditorRow, TableEditor

_RANGE_FIELDS = ("min", "max", "step")
_PLACEHOLDERS = {"name": "name", "min": "min", "max": "max", "step": "step", "values": "a, b, c"}


class HyperParameterRow(EditorRow):
    """Name, type, and either min/max/step (a range) or values (a choice)."""

    FIELDS = ("name", "type", "min", "max", "step", "values")

    def make_controls(self, item: Mapping[str, Any]) -> dict[str, Widget]:
        kind = item.get("type", "int")
        values = item.get("values")
        return {
            "name": Input(field_text(item.get("name")), placeholder=_PLACEHOLDERS["name"], compact=True, classes="field-name"),
            "type": Input(
                field_text(kind), placeholder="|".join(HP_TYPES), suggester=SuggestFromList(HP_TYPES), compact=True, classes="field-type"
            ),
            "min": Input(field_text(item.get("min")), compact=True, classes="field-min"),
            "max": Input(field_text(item.get("max")), compact=True, classes="field-max"),
            "step": Input(field_text(item.get("step")), compact=True, classes="field-step"),
            "values": Input("" if values is None else list_text(values), compact=True, classes="field-values"),
        }

    def on_mount(self) -> None:
        self._enable_fields()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input is self.controls["type"]:
            self._enable_fields()

    def _enable_fields(self) -> None:
        choice = self.kind == "choice"
        for name in (*_RANGE_FIELDS, "values"):
            control = self.controls[name]
            assert isinstance(control, Input)
            control.disabled = choice if name in _RANGE_FIELDS else not choice
            # A disabled field shows no example, so it does not look filled in.
            control.placeholder = "" if control.disabled else _PLACEHOLDERS[name]

    @property
    def kind(self) -> str | None:
        return self._text("type").strip() or None

    def item(self) -> dict[str, Any]:
        name = self._text("name").strip()
        item: dict[str, Any] = {"name": name or None, "type": self.kind}
        # Only the fields of the chosen type are written, so switching a row
        # between range and choice never leaves a stray min or values behind.
        if self.kind == "choice":
            item["values"] = list_value(self._text("values"))
        else:
            for field in _RANGE_FIELDS:
                item[field] = typed_value(self._text(field))
        item.update(self.extra)
        return item


class SpaceEditor(TableEditor):
    """The hyperparameters of the search space, one editable row each."""

    HEADERS = (
        ("name", "name"),
        ("type", "type"),
        ("min", "min"),
        ("max", "max"),
        ("step", "step"),
        ("values", "values (choice)"),
    )
    ADD_LABEL = "Add hyperparameter"

    def new_row(self, item: Mapping[str, Any] | None = None) -> HyperParameterRow:
        return HyperParameterRow(item)
