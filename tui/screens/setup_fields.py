"""The fields of the setup form, the tab each sits on, and the loader's messages worded with their labels.

The form validates itself with the config loader, whose messages name TOML
key paths such as "budget.max_trials" or "space[0] (units).min". The form
shows labels and table rows instead, so `form_location` and `form_problem`
name the field as the form shows it and keep the rest of the loader's
message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tunescope.core.config import BACKBONES, DATASETS, MODEL_FAMILIES

from ..experiment_text import field_text, typed_value
from ..widgets.space_editor import SpaceEditor
from ..widgets.tuner_editor import TunerEditor

# (pane id, tab title), in the order the tabs are shown.
TABS = (
    ("tab-study", "Study"),
    ("tab-data", "Data"),
    ("tab-model", "Model"),
    ("tab-space", "Search space"),
    ("tab-tuners", "Tuners"),
)

# The tab that shows each table of the experiment file.
TAB_OF_TABLE = {
    "experiment": "tab-study",
    "objective": "tab-study",
    "budget": "tab-study",
    "dataset": "tab-data",
    "model": "tab-model",
    "training": "tab-model",
    "space": "tab-space",
    "tuners": "tab-tuners",
}

# Column titles of the editors' header lines by key, without their notes in
# brackets, e.g. "trials" for max_trials and "values" for "values (choice)".
_COLUMN_LABELS = {
    table: {key: title.split(" (")[0] for key, title in editor.HEADERS}
    for table, editor in (("space", SpaceEditor), ("tuners", TunerEditor))
}

# Key paths such as "space[2] (units).min" or "tuners[0].factor" name a row
# of an editor, the hyperparameter of a space row, and one of its keys.
ROW_KEY = re.compile(r"^(space|tuners)\[(\d+)\](?: \(([^)]*)\))?(?:\.(\w+))?$")


@dataclass(frozen=True)
class FieldSpec:
    """One field of the study form: its key path, label, kind and choices.

    `placeholder` is the value the config loader uses when the file leaves
    the key out, shown in the empty field.
    """

    key: str
    label: str
    kind: str  # "text", "number" or "choice"
    options: tuple[str, ...] = ()
    hint: str = ""
    placeholder: str = ""

    @property
    def table(self) -> str:
        return self.key.split(".")[0]

    @property
    def leaf(self) -> str:
        return self.key.split(".")[1]

    @property
    def dom_id(self) -> str:
        return "field-" + self.key.replace(".", "-")

    @property
    def tab(self) -> str:
        return TAB_OF_TABLE[self.table]


FIELDS = (
    FieldSpec("experiment.name", "name", "text", hint="names the run directory"),
    FieldSpec("experiment.seed", "seed", "number", placeholder="0"),
    FieldSpec("experiment.output", "output folder", "text", hint="run directories go here", placeholder="runs"),
    FieldSpec("dataset.name", "data set", "choice", DATASETS),
    FieldSpec("dataset.path", "data path", "text", hint=".npz file, or a folder of class folders"),
    FieldSpec("dataset.train_size", "train size", "number", hint="empty: every example"),
    FieldSpec("dataset.test_size", "test size", "number", hint="empty: every example"),
    FieldSpec("dataset.validation_split", "validation split", "number", hint="fraction, e.g. 0.2", placeholder="0.2"),
    FieldSpec("dataset.test_split", "test split", "number", hint="fraction, e.g. 0.2", placeholder="0.2"),
    FieldSpec("model.family", "model family", "choice", MODEL_FAMILIES),
    FieldSpec("model.backbone", "backbone", "choice", BACKBONES),
    FieldSpec("model.weights", "weights", "choice", ("none", "imagenet")),
    FieldSpec("model.function", "model function", "text", hint="module:function"),
    FieldSpec("training.mixed_precision", "mixed precision", "choice", ("false", "true")),
    FieldSpec("training.jit_compile", "XLA compile", "choice", ("auto", "false", "true")),
    FieldSpec("objective.metric", "objective metric", "text", hint="e.g. val_accuracy, val_loss", placeholder="val_accuracy"),
    FieldSpec("objective.direction", "direction", "choice", ("max", "min")),
    FieldSpec("budget.max_trials", "trials per tuner", "number", placeholder="10"),
    FieldSpec("budget.epochs", "epochs per trial", "number", placeholder="5"),
    FieldSpec("budget.executions_per_trial", "executions/trial", "number", placeholder="1"),
    FieldSpec("budget.batch_size", "batch size", "number", placeholder="32"),
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


def field_value(spec: FieldSpec, content: Any) -> Any:
    """Return the value a field's content gives its key in the experiment file.

    `content` is the text of an Input field or the value of a choice. The
    text of a number field is read as the TOML value it spells, so that a
    word reaches the loader as a string and gets the loader's message.
    """
    if spec.kind == "choice":
        # The options "true" and "false" stand for TOML booleans.
        return typed_value(content) if content in ("true", "false") else content
    if spec.kind == "number":
        return typed_value(content)
    if spec.key == "experiment.name":
        # The name names the run directory: an empty one is an error for
        # the loader to report, not a field to leave out.
        return content.strip()
    return content.strip() or None


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


def tab_of_key(key: str) -> str:
    """Return the pane id of the tab that shows the loader key path `key`."""
    return TAB_OF_TABLE.get(re.split(r"[.\[ ]", key, maxsplit=1)[0], "tab-study")


def form_location(key: str) -> str:
    """Name the field at the loader key path `key` as the form labels it.

    "budget.max_trials" becomes "Trials per tuner", "space[0] (units).min"
    becomes "Search space, row 1 (units), min", and a tuner key without a
    column of its own, such as "tuners[2].factor", becomes
    "Tuners, row 3, setting factor". A key that no field shows, such as a
    hidden key kept from a loaded file, stays a key path.
    """
    if key in FIELDS_BY_KEY:
        label = FIELDS_BY_KEY[key].label
        return label[:1].upper() + label[1:]
    if key == "space":
        return "Search space"
    if key == "tuners":
        return "Tuners"

    match = ROW_KEY.match(key)
    if match is None:
        return key
    table, index, name, column = match.groups()
    location = "Search space" if table == "space" else "Tuners"
    location += f", row {int(index) + 1}"
    if name:
        location += f" ({name})"
    if column is None:
        return location
    columns = _COLUMN_LABELS[table]
    if table == "tuners" and column not in columns:
        # The settings column contains every tuner key without a column of its own.
        return f"{location}, setting {column}"
    return f"{location}, {columns.get(column, column)}"


def form_problem(key: str, problem: str) -> str:
    """Word the loader's `problem` with the key at `key` for the form.

    The check and its reason stay the loader's. Only the TOML a person would
    type into a file changes: "write e.g. max_trials = 10" becomes "write
    e.g. 10", "missing; add min = ..." becomes "missing; fill it in", and
    "[[space]] tables" become rows.
    """
    leaf = key.rsplit(".", 1)[-1] if "." in key else ""
    if leaf:
        problem = problem.replace(f"write e.g. {leaf} = ", "write e.g. ")
        problem = problem.replace(f"missing; add {leaf} = ...", "missing; fill it in")
    for table in ("space", "tuners"):
        problem = problem.replace(f"[[{table}]] tables", "rows").replace(f"[[{table}]] table", "row")
    return problem
