"""The setup screen: forms for an experiment, checked as typed, loaded from and saved to TOML."""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widget import AwaitMount, Widget
from textual.widgets import Footer, Header, Input, Select, Static, TabbedContent, TabPane

from tunescope.core.config import Experiment, load_experiment, parse_experiment
from tunescope.core.errors import ConfigError, TunescopeError
from tunescope.core.store import create_run_dir

from ..experiment_text import TABLE_ORDER, SettingsSyntaxError, experiment_text, field_text
from ..settings import AppSettings
from ..widgets.form_row import FormRow
from ..widgets.space_editor import SpaceEditor
from ..widgets.table_editor import TableEditor, options_with, select_value
from ..widgets.tuner_editor import TunerEditor
from .confirm import ConfirmDialog
from .path_prompt import PathPrompt
from .setup_fields import (
    FIELDS,
    FIELDS_BY_KEY,
    ROW_KEY,
    TAB_OF_TABLE,
    TABS,
    FieldSpec,
    choice_text,
    field_shown,
    field_value,
    form_location,
    form_problem,
    tab_of_key,
    value_at,
)

logger = logging.getLogger(__name__)

# The form's starting point when the app opens without a file: digits, which
# ships with scikit-learn, so the first run needs no download.
DEFAULT_EXPERIMENT = """\
[experiment]
name = "quickstart"
seed = 42
output = "runs"

[dataset]
name = "digits"
validation_split = 0.2
test_split = 0.2

[model]
family = "dnn"

[objective]
metric = "val_accuracy"
direction = "max"

[budget]
max_trials = 8
epochs = 6
batch_size = 32

[[space]]
name = "num_layers"
type = "int"
min = 1
max = 4

[[space]]
name = "nodes_dense"
type = "int"
min = 16
max = 128
step = 16

[[space]]
name = "learning_rate"
type = "log"
min = 1e-4
max = 1e-2

[[tuners]]
type = "random"

[[tuners]]
type = "bayesian"
num_initial_points = 3

[[tuners]]
type = "hyperband"
factor = 3

[[tuners]]
type = "aisara"
trials_per_round = 3
rounds = 2
"""

# Keys the loader accepts that the form has no field for. A loaded file's
# values for them are kept and written back unchanged.
HIDDEN_KEYS = {
    "experiment": ("max_consecutive_failures",),
    "dataset": ("image_size",),
    "model": ("image_size", "metrics"),
}

# The footer shows the keys that step through the tabs as one entry.
_TAB_KEYS = Binding.Group("Tabs")

# The on-quit choice is a setting of this app session, not of the experiment.
ON_QUIT_OPTIONS = [("stop the study", False), ("keep it running headless", True)]


class SetupTabs(TabbedContent):
    """The form's tabs, which ignore a pane-focus message that arrives after focus has left that pane.

    Focusing a field makes its pane post `TabPane.Focused`, and TabbedContent
    shows that pane when the message arrives. Under CPU load it can arrive
    after the next tab key has already moved focus on, and would then switch
    back to the previous tab.
    """

    def on_tab_pane_focused(self, event: TabPane.Focused) -> None:
        focused = self.screen.focused
        if focused is None or event.tab_pane not in focused.ancestors:
            event.prevent_default()
            event.stop()


class TunerSettingsError(ValueError):
    """A tuner row whose settings field is not a list of ``key = value`` pairs."""

    def __init__(self, row: int, problem: str) -> None:
        super().__init__(problem)
        self.row = row
        self.problem = problem


@dataclass(frozen=True)
class FormProblem:
    """The first problem with the form.

    `key` and `problem` are the config loader's key path and problem text.
    `text` is that problem worded for the form, and `message` adds the label
    of the field, e.g. "Trials per tuner: expected an integer, ...".
    """

    key: str
    problem: str
    text: str
    message: str

    @classmethod
    def at(cls, key: str, problem: str) -> FormProblem:
        text = form_problem(key, problem)
        location = form_location(key)
        return cls(key, problem, text, f"{location}: {text}" if location else text)


class SetupScreen(Screen[None]):
    """Forms for the data set, model, objective, budget, search space and tuners.

    Only the first tab is composed with the screen, so that it is drawn
    quickly. Every other tab is composed the first time it is shown. Until
    then the form reads that tab's values from the file it was filled from,
    with the same conversions its fields apply.
    """

    CSS_PATH = "setup.tcss"
    AUTO_FOCUS = ".form Input"
    BINDINGS = [
        Binding("ctrl+r", "run", "Run"),
        Binding("ctrl+s", "save", "Save"),
        Binding("ctrl+o", "load", "Load"),
        # Priority, because a focused scroll container would otherwise take
        # ctrl+pageup/pagedown first, for horizontal scrolling.
        Binding("ctrl+pageup,alt+left", "previous_tab", "Previous tab", priority=True, group=_TAB_KEYS),
        Binding("ctrl+pagedown,alt+right", "next_tab", "Next tab", priority=True, group=_TAB_KEYS),
        # Without priority, so that an Input with focus types the digit.
        *(Binding(str(number), f"show_tab('{tab}')", show=False) for number, (tab, _) in enumerate(TABS, start=1)),
    ]

    def __init__(
        self, settings: AppSettings, config_path: Path | None = None, start: bool = False, out: Path | None = None
    ) -> None:
        super().__init__()
        self.settings = settings
        self.config_path = config_path
        self.start = start
        # `tunescope run CONFIG --out PATH` on a terminal: the first run's directory.
        self.out = out
        self.experiment: Experiment | None = None
        self.problem: FormProblem | None = None
        self._validation_queued = False
        # The field values that the last validation checked.
        self.validated_values: dict[str, Any] | None = None

        # The form is built with the file's values, so that nothing is
        # mounted twice; problems reading it are shown once mounted.
        self._notes: list[tuple[str, str, str]] = []
        data = self._read(config_path) if config_path is not None else None
        if data is None:
            self.config_path = None
            data = tomllib.loads(DEFAULT_EXPERIMENT)
        self._hidden, dropped = split_hidden(data)
        if dropped:
            self._notes.append(_dropped_note(config_path, dropped))

        # The contents of tabs not composed yet: the text or choice of each
        # field, and the tables of each editor.
        self._pending_fields: dict[str, str] = {}
        self._pending_tables: dict[str, list[dict[str, Any]]] = {}
        self._set_pending(data)
        self._composed_tabs = {TABS[0][0]}
        self._tab_mounts: dict[str, AwaitMount] = {}
        # The tab that the latest tab key or number key requested.
        self._requested_tab = TABS[0][0]

    # -- layout ----------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with SetupTabs(id="setup-tabs"):
            for tab, title in TABS:
                with TabPane(title, id=tab):
                    if tab == TABS[0][0]:
                        yield from self._tab_content(tab)
        yield Static("", id="status", markup=False)
        yield Footer()

    def _tab_content(self, tab: str) -> list[Widget]:
        """Build the widgets of the tab `tab` from the pending values."""
        if tab == TAB_OF_TABLE["space"]:
            return [SpaceEditor(self._pending_tables["space"], id="space-editor")]
        if tab == TAB_OF_TABLE["tuners"]:
            return [TunerEditor(self._pending_tables["tuners"], id="tuner-editor")]

        # The fields that decide what is shown sit on the same tab as the
        # fields they show or hide, so the pending values are current here.
        values = {spec.key: field_value(spec, self._pending_fields[spec.key]) for spec in FIELDS}
        rows: list[Widget] = []
        for spec in FIELDS:
            if spec.tab != tab:
                continue
            row = FormRow(spec.label, self._control(spec, self._pending_fields[spec.key]), spec.key, spec.hint)
            row.display = field_shown(spec.key, values)
            rows.append(row)
        if tab == TABS[0][0]:
            on_quit = Select(ON_QUIT_OPTIONS, value=self.settings.keep_running_on_quit, id="on-quit", allow_blank=False, compact=True)
            rows.append(FormRow("on quit", on_quit, "app.on_quit", "what a running study does when the app closes"))
        # The scroll container takes no focus of its own, so that Tab goes
        # from field to field.
        return [VerticalScroll(*rows, classes="form", can_focus=False)]

    def _control(self, spec: FieldSpec, content: str) -> Widget:
        if spec.kind == "choice":
            return Select(options_with(spec.options, content), value=content, id=spec.dom_id, allow_blank=False, compact=True)
        return Input(content, placeholder=spec.placeholder, id=spec.dom_id, compact=True)

    def on_mount(self) -> None:
        self.title = "tunescope: set up a study"
        self.sub_title = str(self.config_path) if self.config_path else "new experiment"
        if self.settings.ascii_only:
            self.add_class("-ascii")
        for message, title, severity in self._notes:
            self.notify(message, title=title, severity=severity)  # type: ignore[arg-type]
        self.validate_now()
        if self.start:
            self.call_later(self.action_run)

    def on_screen_suspend(self) -> None:
        # A focused Input keeps its cursor's blink timer running under the
        # run screen, and each tick wakes the app, which takes time from the study.
        if isinstance(self.focused, Input):
            self.focused.cursor_blink = False

    def on_screen_resume(self) -> None:
        if isinstance(self.focused, Input):
            self.focused.cursor_blink = True

    def _read(self, path: Path) -> dict[str, Any] | None:
        """Parse the TOML at `path`; on failure note the loader's message and return None."""
        try:
            return tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            # The loader words each of these problems (missing file, folder,
            # encoding, syntax) for the person.
            try:
                load_experiment(path)
            except ConfigError as error:
                self._notes.append((str(error), "Cannot load the file", "error"))
            return None

    # -- tabs ------------------------------------------------------------------

    def tab_composed(self, tab: str) -> bool:
        """Return whether the widgets of the tab `tab` are mounted."""
        return tab in self._composed_tabs

    async def compose_tab(self, tab: str) -> None:
        """Mount the widgets of the tab `tab`, unless they are mounted or being mounted."""
        if tab in self._composed_tabs:
            return
        mounting = self._tab_mounts.get(tab)
        if mounting is None:
            pane = self.query_one(f"#{tab}", TabPane)
            mounting = self._tab_mounts[tab] = pane.mount_all(self._tab_content(tab))
        await mounting
        self._composed_tabs.add(tab)
        self._show_problem()

    @on(TabbedContent.TabActivated)
    async def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id is not None:
            await self.compose_tab(event.pane.id)

    async def action_show_tab(self, tab: str) -> None:
        """Show the tab `tab` and focus its first field."""
        await self.compose_tab(tab)
        self._requested_tab = tab
        self.query_one(TabbedContent).active = tab
        # The rows of an editor mount after the editor itself, so the focus
        # chain is complete only after the next refresh.
        self.call_after_refresh(self._focus_first_field, tab)

    def _focus_first_field(self, tab: str) -> None:
        if tab != self._requested_tab:
            # A later key press requested another tab.
            return
        # A pane-focus message from the field focused before the switch can
        # have shown the previous tab again while focus was still there. The
        # tab must be shown for its fields to be in the focus chain.
        self.query_one(TabbedContent).active = tab
        pane = self.query_one(f"#{tab}", TabPane)
        first = next((widget for widget in self.focus_chain if pane in widget.ancestors), None)
        if first is not None:
            first.focus()

    async def action_next_tab(self) -> None:
        await self._step_tab(1)

    async def action_previous_tab(self) -> None:
        await self._step_tab(-1)

    async def _step_tab(self, step: int) -> None:
        tabs = [tab for tab, _ in TABS]
        active = self.query_one(TabbedContent).active
        index = tabs.index(active) if active in tabs else 0
        await self.action_show_tab(tabs[(index + step) % len(tabs)])

    # -- form values -----------------------------------------------------------

    def _set_pending(self, data: dict[str, Any]) -> None:
        """Keep the values of a parsed experiment file for the fields of tabs not composed yet."""
        for spec in FIELDS:
            value = value_at(data, spec)
            self._pending_fields[spec.key] = choice_text(spec, value) if spec.kind == "choice" else field_text(value)
        for table in ("space", "tuners"):
            self._pending_tables[table] = _tables_of(data.get(table))

    def _field_content(self, spec: FieldSpec) -> Any:
        """Return the text of an Input field, or the value of a choice, composed or not."""
        if not self.tab_composed(spec.tab):
            return self._pending_fields[spec.key]
        control = self.query_one(f"#{spec.dom_id}")
        if isinstance(control, Select):
            return select_value(control)
        assert isinstance(control, Input)
        return control.value

    def field_values(self) -> dict[str, Any]:
        """Return the value of each study field, by key path, as the experiment file would have it."""
        return {spec.key: field_value(spec, self._field_content(spec)) for spec in FIELDS}

    def _editor_tables(self, table: str) -> list[dict[str, Any]]:
        """Return the rows of the space or tuner editor as tables, whether its tab is composed or not.

        Raises `TunerSettingsError` when a tuner's settings field is not a
        list of ``key = value`` pairs.
        """
        editor_class: type[TableEditor] = SpaceEditor if table == "space" else TunerEditor
        if self.tab_composed(TAB_OF_TABLE[table]):
            readers = [row.item for row in self.query_one(editor_class).rows]
        else:
            row_class = editor_class.ROW
            readers = [partial(row_class.table_of, item) for item in self._pending_tables[table]]
        tables = []
        for index, read in enumerate(readers):
            try:
                tables.append(read())
            except SettingsSyntaxError as error:
                raise TunerSettingsError(index, str(error)) from None
        return tables

    def form_text(self) -> str:
        """Write the form as experiment TOML.

        Raises `TunerSettingsError` when a tuner's settings field is not a
        list of ``key = value`` pairs, which no TOML table can hold.
        """
        values = self.field_values()
        tables: dict[str, Any] = {name: {} for name in TABLE_ORDER}
        for spec in FIELDS:
            if field_shown(spec.key, values):
                tables[spec.table][spec.leaf] = values[spec.key]
        for table, extras in self._hidden.items():
            tables[table].update(extras)
        tables["space"] = self._editor_tables("space")
        tables["tuners"] = self._editor_tables("tuners")
        return experiment_text(tables)

    async def fill(self, data: dict[str, Any]) -> list[str]:
        """Put the tables of a parsed experiment file into the form.

        Returns the key paths the form cannot show and dropped, such as
        misspelt keys.
        """
        # A tab being composed is built from the pending values, so it has
        # to be in place before they change.
        for tab in list(self._tab_mounts):
            await self.compose_tab(tab)
        self._hidden, dropped = split_hidden(data)
        self._set_pending(data)
        for spec in FIELDS:
            if not self.tab_composed(spec.tab):
                continue
            content = self._pending_fields[spec.key]
            control = self.query_one(f"#{spec.dom_id}")
            if isinstance(control, Select):
                control.set_options(options_with(spec.options, content))
                control.value = content
            elif isinstance(control, Input):
                control.value = content

        for table, editor_class in (("space", SpaceEditor), ("tuners", TunerEditor)):
            if self.tab_composed(TAB_OF_TABLE[table]):
                await self.query_one(editor_class).load(self._pending_tables[table])
        self._show_fields(self.field_values())
        self.queue_validation()
        return dropped

    def _show_fields(self, values: dict[str, Any]) -> None:
        for spec in FIELDS:
            if not self.tab_composed(spec.tab):
                continue
            row = self._form_row(spec.key)
            shown = field_shown(spec.key, values)
            if row.display != shown:
                row.display = shown

    def _form_row(self, key: str) -> FormRow:
        return self.query_one(f"#row-{key.replace('.', '-')}", FormRow)

    # -- validation ------------------------------------------------------------

    @on(Input.Changed)
    @on(Select.Changed)
    @on(TableEditor.Changed)
    def queue_validation(self) -> None:
        """Validate once after the current batch of edits has been applied."""
        if not self._validation_queued:
            self._validation_queued = True
            self.call_after_refresh(self.validate_now)

    @on(Select.Changed, "#on-quit")
    def on_quit_changed(self, event: Select.Changed) -> None:
        event.stop()
        self.settings.keep_running_on_quit = bool(event.value)

    def validate_now(self) -> Experiment | None:
        """Check the whole form with the config loader and show its first problem."""
        self._validation_queued = False
        self.validated_values = self.field_values()
        self._show_fields(self.validated_values)
        self.experiment, self.problem = None, None
        base_dir = self.config_path.parent if self.config_path else Path.cwd()
        source = str(self.config_path) if self.config_path else "form"
        try:
            text = self.form_text()
            self.experiment = parse_experiment(text, source=source, base_dir=base_dir)
        except TunerSettingsError as error:
            self.problem = FormProblem.at(f"tuners[{error.row}].settings", error.problem)
        except ConfigError as error:
            self.problem = FormProblem.at(error.key, error.problem)
        self._show_problem()
        return self.experiment

    def _show_problem(self) -> None:
        """Show the problem in the status line and beside its field, in whichever tabs are composed."""
        for row in self.query(FormRow):
            row.show_error(None)
        editors: dict[str, TableEditor] = {}
        for table, editor_class in (("space", SpaceEditor), ("tuners", TunerEditor)):
            for editor in self.query(editor_class):
                editor.show_error(None)
                editors[table] = editor

        status = self.query_one("#status", Static)
        problem = self.problem
        if problem is None:
            if self.experiment is None:
                # The first validation has not run yet.
                return
            experiment = self.experiment
            trials = sum(t.max_trials for t in experiment.tuners)
            status.update(
                f"ready: {len(experiment.tuners)} tuners, {trials} trials in all, "
                f"{len(experiment.space)} hyperparameters; ctrl+r runs the study"
            )
            status.set_class(False, "-invalid")
            return

        status.update(problem.message)
        status.set_class(True, "-invalid")
        if problem.key in FIELDS_BY_KEY:
            if self.tab_composed(FIELDS_BY_KEY[problem.key].tab):
                self._form_row(problem.key).show_error(problem.text)
            return
        match = ROW_KEY.match(problem.key)
        if match is not None:
            table, index, field = match.group(1), int(match.group(2)), match.group(4)
            editor = editors.get(table)
            if editor is None:
                return
            rows = editor.rows
            if index < len(rows):
                fields = rows[index].FIELDS
                if field not in fields and table == "tuners" and field is not None:
                    field = "settings"
                editor.show_error(problem.message, index, field if field in fields else None)
            return
        if problem.key in editors:
            editors[problem.key].show_error(problem.message)

    async def _focus_problem(self) -> None:
        """Show the tab that contains the problem and focus its field."""
        if self.problem is None:
            return
        key = self.problem.key
        tab = tab_of_key(key)
        await self.compose_tab(tab)
        self.query_one(TabbedContent).active = tab
        if key in FIELDS_BY_KEY:
            self.query_one(f"#{FIELDS_BY_KEY[key].dom_id}").focus()
            return
        match = ROW_KEY.match(key)
        if match is not None:
            editor: TableEditor = self.query_one(SpaceEditor if match.group(1) == "space" else TunerEditor)
            rows = editor.rows
            index = int(match.group(2))
            if index < len(rows):
                row = rows[index]
                field = match.group(4)
                target = row.controls.get(field or "") or row.controls.get("settings") or row.controls[row.FIELDS[0]]
                target.focus()

    # -- actions ---------------------------------------------------------------

    async def action_run(self) -> None:
        experiment = self.validate_now()
        if experiment is None:
            assert self.problem is not None
            self.notify(self.problem.message, title="Fix the form first", severity="error")
            await self._focus_problem()
            return
        try:
            run_dir = create_run_dir(experiment.name, experiment.text, experiment.output, self.out)
        except TunescopeError as error:
            self.notify(str(error), title="Cannot start the study", severity="error")
            return
        logger.info("starting study %s in %s", experiment.name, run_dir.path)
        # A second run from the same form gets a directory of its own.
        self.out = None

        from .run import RunScreen

        self.app.push_screen(RunScreen.live(self.settings, experiment, run_dir))

    def action_load(self) -> None:
        def chosen(path: Path | None) -> None:
            if path is not None:
                self.run_worker(self.load_file(path), exclusive=True, group="setup-load")

        self.app.push_screen(PathPrompt("Load an experiment file", self.config_path), chosen)

    async def load_file(self, path: Path) -> bool:
        """Fill the form from the experiment file at `path`; returns whether it could be read."""
        data = self._read(path)
        for message, title, severity in self._notes:
            self.notify(message, title=title, severity=severity)  # type: ignore[arg-type]
        self._notes.clear()
        if data is None:
            return False
        self.config_path = path
        self.sub_title = str(path)
        dropped = await self.fill(data)
        if dropped:
            message, title, severity = _dropped_note(path, dropped)
            self.notify(message, title=title, severity=severity)  # type: ignore[arg-type]
        return True

    def action_save(self) -> None:
        try:
            text = self.form_text()
        except TunerSettingsError as error:
            problem = FormProblem.at(f"tuners[{error.row}].settings", error.problem)
            self.notify(problem.message, title="Cannot save", severity="error")
            return
        default = self.config_path or Path(f"{self._experiment_name()}.toml")

        def chosen(path: Path | None) -> None:
            if path is None:
                return
            if path.exists() and path != self.config_path:
                question = ConfirmDialog("Overwrite?", f"{path} already exists.", [("Overwrite", "yes"), ("Back", "no")])
                self.app.push_screen(question, lambda answer: self._write(path, text) if answer == "yes" else None)
                return
            self._write(path, text)

        self.app.push_screen(PathPrompt("Save the experiment as", default), chosen)

    def _write(self, path: Path, text: str) -> None:
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as error:
            self.notify(f"{path}: cannot be written ({error.strerror}); choose another path", severity="error")
            return
        self.config_path = path
        self.sub_title = str(path)
        if self.problem is not None:
            self.notify(f"saved to {path}, but it is not valid yet: {self.problem.message}", severity="warning")
        else:
            self.notify(f"saved to {path}")

    def _experiment_name(self) -> str:
        name = self.field_values().get("experiment.name")
        return name if isinstance(name, str) and name else "experiment"


def split_hidden(data: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Sort the keys of a parsed file that no field shows into kept (`HIDDEN_KEYS`) and dropped.

    Returns the kept values by table, and the key paths of the dropped ones,
    such as misspelt keys, which the form could not let a person fix.
    """
    hidden: dict[str, dict[str, Any]] = {}
    dropped: list[str] = []
    for table in TABLE_ORDER:
        section = data.get(table, {})
        if not isinstance(section, dict):
            dropped.append(table)
            continue
        for key, value in section.items():
            if f"{table}.{key}" in FIELDS_BY_KEY:
                continue
            if key in HIDDEN_KEYS.get(table, ()):
                hidden.setdefault(table, {})[key] = value
            else:
                dropped.append(f"{table}.{key}")
    dropped.extend(key for key in data if key not in (*TABLE_ORDER, "space", "tuners"))
    return hidden, dropped


def _dropped_note(path: Path | None, dropped: list[str]) -> tuple[str, str, str]:
    return (f"{path}: the form has no field for {', '.join(dropped)}; they are left out", "Keys left out", "warning")


def _tables_of(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]

