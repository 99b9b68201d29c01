"""An editable table of form rows with add and remove, the base of the space and tuner editors."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, Static

from ._styles import sibling_css


class EditorRow(Horizontal):
    """One row of a `TableEditor`: a control per field and a remove button.

    Subclasses set `FIELDS` (the field names, in column order), say in
    `texts_of` what each field shows for an item, build the controls from
    those texts in `make_controls` (each with the class "field-<name>" that
    the header's column of the same field has), and read texts back into an
    item in `item_from`. Keys of the row's item that no field shows are kept
    in `extra` and written back unchanged.
    """

    FIELDS: ClassVar[tuple[str, ...]] = ()

    def __init__(self, item: Mapping[str, Any] | None = None) -> None:
        super().__init__(classes="editor-row")
        item = dict(item or {})
        self.extra = self.extra_of(item)
        self.controls: dict[str, Widget] = self.make_controls(self.texts_of(item))

    @classmethod
    def texts_of(cls, item: Mapping[str, Any]) -> dict[str, str]:
        """Return the text each field shows for `item`, by field name."""
        raise NotImplementedError

    @classmethod
    def extra_of(cls, item: Mapping[str, Any]) -> dict[str, Any]:
        """Return the keys of `item` that no field shows, which the row keeps unchanged."""
        return {key: value for key, value in item.items() if key not in cls.FIELDS}

    @classmethod
    def item_from(cls, texts: Mapping[str, str], extra: Mapping[str, Any]) -> dict[str, Any]:
        """Return the table of the experiment file that the field texts spell; None values are left out when written."""
        raise NotImplementedError

    @classmethod
    def table_of(cls, item: Mapping[str, Any]) -> dict[str, Any]:
        """Return the table a row built from `item` would write, without building its widgets."""
        return cls.item_from(cls.texts_of(item), cls.extra_of(item))

    def make_controls(self, texts: Mapping[str, str]) -> dict[str, Widget]:
        raise NotImplementedError

    def item(self) -> dict[str, Any]:
        """Return the row as a table of the experiment file."""
        return self.item_from({name: self._text(name) for name in self.FIELDS}, self.extra)

    def compose(self) -> ComposeResult:
        for name in self.FIELDS:
            yield self.controls[name]
        yield Button("del", classes="remove", compact=True, tooltip="Remove this row")

    def mark_invalid(self, field: str | None) -> None:
        """Mark the control of `field` as invalid, and every other control as valid."""
        for name, control in self.controls.items():
            control.set_class(name == field, "-invalid")

    def focus_first(self) -> None:
        self.controls[self.FIELDS[0]].focus()

    def _text(self, name: str) -> str:
        control = self.controls[name]
        assert isinstance(control, Input)
        return control.value


class TableEditor(Widget):
    """A header line, rows of controls, an add button and one line for a problem."""

    DEFAULT_CSS = sibling_css(__file__)
    BINDINGS = [Binding("ctrl+n", "add_row", "Add row")]

    HEADERS: ClassVar[tuple[tuple[str, str], ...]] = ()
    """(field, column title) pairs of the header line."""

    ADD_LABEL: ClassVar[str] = "Add row"

    ROW: ClassVar[type[EditorRow]] = EditorRow
    """The class of the rows, which `new_row` builds."""

    class Changed(Message):
        """A row was added or removed, so the form needs validating again."""

        def __init__(self, editor: TableEditor) -> None:
            super().__init__()
            self.editor = editor

        @property
        def control(self) -> TableEditor:
            return self.editor

    def __init__(self, items: Iterable[Mapping[str, Any]] = (), id: str | None = None) -> None:
        super().__init__(id=id)
        self._initial = list(items)

    def new_row(self, item: Mapping[str, Any] | None = None) -> EditorRow:
        return self.ROW(item)

    def compose(self) -> ComposeResult:
        with Horizontal(classes="editor-header"):
            for field, title in self.HEADERS:
                yield Label(title, classes=f"field-{field}")
        # The scroll container takes no focus of its own, so that Tab goes
        # from field to field.
        with VerticalScroll(classes="editor-rows", can_focus=False):
            for item in self._initial:
                yield self.new_row(item)
        with Horizontal(classes="editor-actions"):
            yield Button(self.ADD_LABEL, classes="add", compact=True)
            yield Label("ctrl+n adds a row; Tab reaches each row's del button", classes="editor-help")
        yield Static("", classes="editor-error", markup=False)

    @property
    def rows(self) -> list[EditorRow]:
        return list(self.query_one(".editor-rows").query_children(EditorRow))

    def items(self) -> list[dict[str, Any]]:
        """Return every row as a table of the experiment file, in order."""
        return [row.item() for row in self.rows]

    async def load(self, items: Iterable[Mapping[str, Any]]) -> None:
        """Replace every row with rows built from `items`."""
        container = self.query_one(".editor-rows")
        await container.remove_children()
        await container.mount_all([self.new_row(item) for item in items])
        self.show_error(None)

    async def action_add_row(self) -> None:
        row = self.new_row()
        await self.query_one(".editor-rows").mount(row)
        row.scroll_visible()
        row.focus_first()
        self.post_message(self.Changed(self))

    async def _on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.has_class("add"):
            await self.action_add_row()
            return
        row = next((a for a in event.button.ancestors if isinstance(a, EditorRow)), None)
        if row is None:
            return
        rows = self.rows
        index = rows.index(row)
        await row.remove()
        remaining = self.rows
        if remaining:
            remaining[min(index, len(remaining) - 1)].focus_first()
        else:
            self.query_one(".add", Button).focus()
        self.post_message(self.Changed(self))

    def show_error(self, problem: str | None, index: int | None = None, field: str | None = None) -> None:
        """Show the loader's problem with row `index` (its `field` marked), or clear it with None."""
        for position, row in enumerate(self.rows):
            row.mark_invalid(field if position == index else None)
        self.query_one(".editor-error", Static).update(problem or "")
        self.set_class(problem is not None, "-invalid")


def select_value(select: Select[Any]) -> Any:
    """Return the value of a Select, or None when nothing is selected."""
    value = select.value
    return None if value is Select.NULL else value


def options_with(known: Iterable[str], value: Any) -> list[tuple[str, str]]:
    """Build Select options for `known` values, plus `value` when it is a string outside them.

    A file may name a value the form does not offer, such as a misspelt
    type. Keeping it selectable lets the loader's message about it show.
    """
    names = list(known)
    if isinstance(value, str) and value and value not in names:
        names.append(value)
    return [(name, name) for name in names]
