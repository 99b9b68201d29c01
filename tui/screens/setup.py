"""The setup screen: forms for an experiment, checked as typed, loaded from and saved to TOML."""

from __future__ import annotations

import logging
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Header, Input, Select, Static, TabbedContent, TabPane

from tunescope.core.config import BACKBONES, DATASETS, MODEL_FAMILIES, Experiment, load_experiment, parse_experiment
from tunescope.core.errors import ConfigError, TunescopeError
from tunescope.core.store import create_run_dir

from ..experiment_text import TABLE_ORDER, SettingsSyntaxError, experiment_text, field_text, typed_value
from ..settings import AppSettings
from ..widgets.form_row import FormRow
from ..widgets.space_editor import SpaceEditor
from ..widgets.table_editor import TableEditor, options_with, select_value
from ..widgets.tuner_editor import TunerEditor
from .confirm import ConfirmDialog
from .path_prompt import PathPrompt

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

# The on-quit choice is a setting of this app session, not of the experiment.
ON_QUIT_OPTIONS = [("stop the study", False), ("keep it running headless", True)]

# Key paths such as "space[2] (units).min" or "tuners[0].factor" name a row
# of an editor and one of its fields.
_ROW_KEY = re.compile(r"^(space|tuners)\[(\d+)\](?: \([^)]*\))?(?:\.(\w+))?$")


@dataclass(frozen=True)
class FieldSpec:
    """One field of the study form: its key path, label, kind and choices."""

    key: str
    label: str
    kind: str  # "text", "number" or "choice"
    options: tuple[str, ...] = ()
    hint: str = ""

    @property
    def table(self) -> str:
        return self.key.split(".")[0]

    @property
    def leaf(self) -> str:
        return self.key.split(".")[1]

    @property
    def dom_id(self) -> str:
        return "field-" + self.key.replace(".", "-")


FIELDS = (
    FieldSpec("experiment.name", "name", "text", hint="names the run directory"),
    FieldSpec("experiment.seed", "seed", "number"),
    FieldSpec("experiment.output", "output folder", "text", hint="run directories go here"),
    FieldSpec("dataset.name", "data set", "choice", DATASETS),
    FieldSpec("dataset.path", "data path", "text", hint=".npz file, or a folder of class folders"),
    FieldSpec("dataset.train_size", "train size", "number", hint="empty: every example"),
    FieldSpec("dataset.test_size", "test size", "number", hint="empty: every example"),
    FieldSpec("dataset.validation_split", "validation split", "number", hint="fraction, e.g. 0.2"),
    FieldSpec("dataset.test_split", "test split", "number", hint="fraction, e.g. 0.2"),
    FieldSpec("model.family", "model family", "choice", MODEL_FAMILIES),
    FieldSpec("model.backbone", "backbone", "choice", BACKBONES),
    FieldSpec("model.weights", "weights", "choice", ("none", "imagenet")),
    FieldSpec("model.function", "model function", "text", hint="module:function"),
    FieldSpec("objective.metric", "objective metric", "text", hint="e.g. val_accuracy, val_loss"),
    FieldSpec("objective.direction", "direction", "choice", ("max", "min")),
    FieldSpec("budget.max_trials", "trials per tuner", "number"),
    FieldSpec("budget.epochs", "epochs per trial", "number"),
    FieldSpec("budget.executions_per_trial", "executions/trial", "number"),
    FieldSpec("budget.batch_size", "batch size", "number"),
)
FIELDS_BY_KEY = {spec.key: spec for spec in FIELDS}


def field_shown(key: str, values: dict[str, Any]) -> bool:
    """Return whether a field applies, given the values of the data set and model family fields."""
    if key == "dataset.path":
        return values.get("dataset.name") in ("npz", "images")
    if key in ("model.backbone", "model.weights"):
        return values.get("model.family") == "pretrained"
    if key == "model.function":
        return values.get("model.family") == "custom"
    return True


class TunerSettingsError(ValueError):
    """A tuner row whose settings field is not a list of ``key = value`` pairs."""

    def __init__(self, row: int, problem: str) -> None:
        super().__init__(problem)
        self.row = row
        self.problem = problem


@dataclass(frozen=True)
class FormProblem:
    """The first problem with the form: the loader's key path, its text and the full message."""

    key: str
    problem: str
    message: str


class SetupScreen(Screen[None]):
    """Forms for the data set, model, objective, budget, search space and tuners."""

    CSS_PATH = "setup.tcss"
    BINDINGS = [
        Binding("ctrl+r", "run", "Run"),
        Binding("ctrl+s", "save", "Save"),
        Binding("ctrl+o", "load", "Load"),
    ]

    def __init__(self, settings: AppSettings, config_path: Path | None = None, start: bool = False) -> None:
        super().__init__()
        self.settings = settings
        self.config_path = config_path
        self.start = start
        self.experiment: Experiment | None = None
        self.problem: FormProblem | None = None
        self._validation_queued = False

        # The form is built with the file's values, so that nothing is
        # mounted twice; problems reading it are shown once mounted.
        self._notes: list[tuple[str, str, str]] = []
        data = self._read(config_path) if config_path is not None else None
        if data is None:
            self.config_path = None
            data = tomllib.loads(DEFAULT_EXPERIMENT)
        self._initial = data
        self._hidden, dropped = split_hidden(data)
        if dropped:
            self._notes.append(_dropped_note(config_path, dropped))

    # -- layout ----------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(id="setup-tabs"):
            with TabPane("Study", id="tab-study"):
                with VerticalScroll(id="study-form"):
                    for spec in FIELDS:
                        yield FormRow(spec.label, self._control(spec, value_at(self._initial, spec)), spec.key, spec.hint)
                    yield FormRow(
                        "on quit",
                        Select(ON_QUIT_OPTIONS, value=self.settings.keep_running_on_quit, id="on-quit", allow_blank=False, compact=True),
                        "app.on_quit",
                        "what a running study does when the app closes",
                    )
            with TabPane("Search space", id="tab-space"):
                yield SpaceEditor(_tables_of(self._initial.get("space")), id="space-editor")
            with TabPane("Tuners", id="tab-tuners"):
                yield TunerEditor(_tables_of(self._initial.get("tuners")), id="tuner-editor")
        yield Static("", id="status", markup=False)
        yield Footer()

    def _control(self, spec: FieldSpec, value: Any) -> Widget:
        if spec.kind == "choice":
            chosen = choice_text(spec, value)
            return Select(options_with(spec.options, chosen), value=chosen, id=spec.dom_id, allow_blank=False, compact=True)
        return Input(field_text(value), id=spec.dom_id, compact=True)

    def on_mount(self) -> None:
        self.title = "tunescope: set up a study"
        self.sub_title = str(self.config_path) if self.config_path else "new experiment"
        if self.settings.ascii_only:
            self.add_class("-ascii")
        for message, title, severity in self._notes:
            self.notify(message, title=title, severity=severity)  # type: ignore[arg-type]
        self.validate_now()
        if self.start:
            self.action_run()

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

    # -- form values -----------------------------------------------------------

    def _form_row(self, key: str) -> FormRow:
        return self.query_one(f"#row-{key.replace('.', '-')}", FormRow)

    def field_values(self) -> dict[str, Any]:
        """Return the value of each study field, by key path, as the experiment file would have it."""
        values: dict[str, Any] = {}
        for spec in FIELDS:
            control = self.query_one(f"#{spec.dom_id}")
            if isinstance(control, Select):
                values[spec.key] = select_value(control)
            elif isinstance(control, Input):
                text = control.value
                if spec.kind == "number":
                    values[spec.key] = typed_value(text)
                elif spec.key == "experiment.name":
                    # The name names the run directory: an empty one is an
                    # error for the loader to report, not a field to leave out.
                    values[spec.key] = text.strip()
                else:
                    values[spec.key] = text.strip() or None
        return values

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
        tables["space"] = self.query_one(SpaceEditor).items()
        tuners = []
        for index, row in enumerate(self.query_one(TunerEditor).rows):
            try:
                tuners.append(row.item())
            except SettingsSyntaxError as error:
                raise TunerSettingsError(index, str(error)) from None
        tables["tuners"] = tuners
        return experiment_text(tables)

    async def fill(self, data: dict[str, Any]) -> list[str]:
        """Put the tables of a parsed experiment file into the form.

        Returns the key paths the form cannot show and dropped, such as
        misspelt keys.
        """
        self._hidden, dropped = split_hidden(data)
        for spec in FIELDS:
            value = value_at(data, spec)
            control = self.query_one(f"#{spec.dom_id}")
            if isinstance(control, Select):
                chosen = choice_text(spec, value)
                control.set_options(options_with(spec.options, chosen))
                control.value = chosen
            elif isinstance(control, Input):
                control.value = field_text(value)

        await self.query_one(SpaceEditor).load(_tables_of(data.get("space")))
        await self.query_one(TunerEditor).load(_tables_of(data.get("tuners")))
        self._show_fields(self.field_values())
        self.queue_validation()
        return dropped

    def _show_fields(self, values: dict[str, Any]) -> None:
        for spec in FIELDS:
            row = self._form_row(spec.key)
            shown = field_shown(spec.key, values)
            if row.display != shown:
                row.display = shown

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
        self._show_fields(self.field_values())
        self.experiment, self.problem = None, None
        base_dir = self.config_path.parent if self.config_path else Path.cwd()
        source = str(self.config_path) if self.config_path else "form"
        try:
            text = self.form_text()
            self.experiment = parse_experiment(text, source=source, base_dir=base_dir)
        except TunerSettingsError as error:
            key = f"tuners[{error.row}].settings"
            self.problem = FormProblem(key, error.problem, f"{source}: {key}: {error.problem}")
        except ConfigError as error:
            self.problem = FormProblem(error.key, error.problem, str(error))
        self._show_problem()
        return self.experiment

    def _show_problem(self) -> None:
        for row in self.query(FormRow):
            row.show_error(None)
        space, tuners = self.query_one(SpaceEditor), self.query_one(TunerEditor)
        space.show_error(None)
        tuners.show_error(None)

        status = self.query_one("#status", Static)
        problem = self.problem
        if problem is None:
            assert self.experiment is not None
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
            self._form_row(problem.key).show_error(problem.problem)
            return
        match = _ROW_KEY.match(problem.key)
        if match is not None:
            table, index, field = match.group(1), int(match.group(2)), match.group(3)
            editor: TableEditor = space if table == "space" else tuners
            rows = editor.rows
            if index < len(rows):
                fields = rows[index].FIELDS
                if field not in fields and table == "tuners" and field is not None:
                    field = "settings"
                editor.show_error(f"row {index + 1}: {problem.problem}", index, field if field in fields else None)
            return
        if problem.key in ("space", "tuners"):
            (space if problem.key == "space" else tuners).show_error(problem.problem)

    def _tab_of(self, key: str) -> str:
        if key.startswith("space"):
            return "tab-space"
        if key.startswith("tuners"):
            return "tab-tuners"
        return "tab-study"

    def _focus_problem(self) -> None:
        """Show the tab that contains the problem and focus its field."""
        if self.problem is None:
            return
        key = self.problem.key
        self.query_one(TabbedContent).active = self._tab_of(key)
        if key in FIELDS_BY_KEY:
            self.query_one(f"#{FIELDS_BY_KEY[key].dom_id}").focus()
            return
        match = _ROW_KEY.match(key)
        if match is not None:
            editor: TableEditor = self.query_one(SpaceEditor if match.group(1) == "space" else TunerEditor)
            rows = editor.rows
            index = int(match.group(2))
            if index < len(rows):
                row = rows[index]
                field = match.group(3)
                target = row.controls.get(field or "") or row.controls.get("settings") or row.controls[row.FIELDS[0]]
                target.focus()

    # -- actions ---------------------------------------------------------------

    def action_run(self) -> None:
        experiment = self.validate_now()
        if experiment is None:
            assert self.problem is not None
            self.notify(self.problem.message, title="Fix the form first", severity="error")
            self._focus_problem()
            return
        try:
            run_dir = create_run_dir(experiment.name, experiment.text, experiment.output)
        except TunescopeError as error:
            self.notify(str(error), title="Cannot start the study", severity="error")
            return
        logger.info("starting study %s in %s", experiment.name, run_dir.path)

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
            self.notify(f"tuner row {error.row + 1}: {error.problem}", title="Cannot save", severity="error")
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


def value_at(data: dict[str, Any], spec: FieldSpec) -> Any:
    """Return the value a parsed experiment file gives the field `spec`, or None."""
    section = data.get(spec.table)
    return section.get(spec.leaf) if isinstance(section, dict) else None


def choice_text(spec: FieldSpec, value: Any) -> str:
    """Return the option a choice field shows for a file's value: the first option when it is missing.

    A value of another type, such as ``direction = 1``, is shown as its text,
    so the loader then names it.
    """
    if value is None:
        return spec.options[0]
    return field_text(value)


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

