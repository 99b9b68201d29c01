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

    @classmethod
    def texts_of(cls, item: Mapping[str, Any]) -> dict[str, str]:
        values = item.get("values")
        texts = {name: field_text(item.get(name)) for name in ("name", *_RANGE_FIELDS)}
        texts["type"] = field_text(item.get("type", "int"))
        texts["values"] = "" if values is None else list_text(values)
        return texts

    def make_controls(self, texts: Mapping[str, str]) -> dict[str, Widget]:
        return {
            "name": Input(texts["name"], placeholder=_PLACEHOLDERS["name"], compact=True, classes="field-name"),
            "type": Input(
                texts["type"], placeholder="|".join(HP_TYPES), suggester=SuggestFromList(HP_TYPES), compact=True, classes="field-type"
            ),
            "min": Input(texts["min"], compact=True, classes="field-min"),
            "max": Input(texts["max"], compact=True, classes="field-max"),
            "step": Input(texts["step"], compact=True, classes="field-step"),
            "values": Input(texts["values"], compact=True, classes="field-values"),
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

    @classmethod
    def item_from(cls, texts: Mapping[str, str], extra: Mapping[str, Any]) -> dict[str, Any]:
        name = texts["name"].strip()
        kind = texts["type"].strip() or None
        item: dict[str, Any] = {"name": name or None, "type": kind}
        # Only the fields of the chosen type are written, so switching a row
        # between range and choice never leaves a stray min or values behind.
        if kind == "choice":
            item["values"] = list_value(texts["values"])
        else:
            for field in _RANGE_FIELDS:
                item[field] = typed_value(texts[field])
        item.update(extra)
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
    ROW = HyperParameterRow
