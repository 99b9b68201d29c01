"""The experiment file: TOML in, a validated `Experiment` out.

All validation of user input about an experiment lives here and runs before
TensorFlow is imported. The first problem found raises `ConfigError`, whose
one-line message names the file, the key path, the bad value and the fix.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .space import HP_TYPES, HyperParameter, SearchSpace

DATASETS = ("digits", "mnist", "fashion_mnist", "cifar10", "cifar100", "npz", "images")
MODEL_FAMILIES = ("dnn", "cnn", "pretrained", "custom")
TUNER_TYPES = ("random", "bayesian", "hyperband", "grid", "aisara", "aisara-cloud")
BACKBONES = (
    "MobileNetV2",
    "MobileNetV3Small",
    "ResNet50",
    "EfficientNetB0",
    "DenseNet121",
    "VGG16",
    "Xception",
    "InceptionV3",
)

# Metrics the built-in families compile with. Keras 3 reports them under
# these names, and with the `val_` prefix when there is validation data.
BUILTIN_METRICS = ("loss", "accuracy")

DEFAULT_API_KEY_ENV = "AISARA_API_KEY"

# Activations the built-in families accept by name (keras.activations).
ACTIVATIONS = (
    "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "silu", "swish",
    "mish", "tanh", "sigmoid", "hard_sigmoid", "softplus", "softsign", "linear",
)

# Ranges that hyperparameters with these names must stay inside:
# (lowest, highest, what to write instead).
_VALUE_LIMITS: dict[str, tuple[float, float, str]] = {
    "batch_size": (1, 1_000_000, "a batch size is at least 1"),
    "dropout": (0.0, 0.95, "dropout is a fraction from 0 to 0.95"),
    "learning_rate": (1e-12, 10.0, "a learning rate lies between 0 and 10, e.g. 1e-4 to 1e-2"),
    "num_layers": (1, 1000, "use at least one layer"),
    "conv_blocks": (1, 100, "use at least one convolution block"),
    "nodes_dense": (1, 1_000_000, "use at least one unit"),
    "dense_units": (1, 1_000_000, "use at least one unit"),
    "filters": (1, 100_000, "use at least one filter"),
    "kernel_size": (1, 64, "a kernel size is at least 1"),
    "trainable_layers": (0, 100_000, "trainable_layers counts layers, from 0"),
}

_SECRET_KEY = re.compile(r"(api[_-]?key|secret|token|password)", re.IGNORECASE)


@dataclass(frozen=True)
class DatasetConfig:
    """The data set to load and its cut into train, validation and test."""

    name: str = "digits"
    path: Path | None = None
    train_size: int | None = None
    test_size: int | None = None
    validation_split: float = 0.2
    test_split: float = 0.2
    image_size: tuple[int, int] | None = None


@dataclass(frozen=True)
class ModelConfig:
    """The model family and its fixed (untuned) settings."""

    family: str = "dnn"
    backbone: str = "MobileNetV2"
    weights: str | None = None
    image_size: int | None = None
    function: str | None = None
    metrics: tuple[str, ...] = BUILTIN_METRICS


@dataclass(frozen=True)
class TrainingConfig:
    """Compile settings of each trial's model: mixed precision and XLA compilation.

    Both are meant for GPUs. Mixed precision is off by default. `jit_compile`
    is True, False or "auto" (the default), which leaves the choice to Keras:
    XLA on a machine with a GPU when every layer supports it, and off on a
    CPU-only machine. There, compiling each trial's new model costs more
    than it saves.
    """

    mixed_precision: bool = False
    jit_compile: bool | str = "auto"


@dataclass(frozen=True)
class Objective:
    """The metric every tuner optimises and whether higher is better."""

    metric: str = "val_accuracy"
    direction: str = "max"

    def better(self, a: float, b: float) -> bool:
        """Return whether objective value `a` beats `b` in this direction."""
        return a > b if self.direction == "max" else a < b


@dataclass(frozen=True)
class TunerConfig:
    """One tuner of the study with its budget and its own settings."""

    name: str
    type: str
    max_trials: int
    epochs: int
    executions_per_trial: int = 1
    batch_size: int = 32
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Experiment:
    """A whole validated experiment file."""

    name: str
    source: Path | None
    dataset: DatasetConfig
    model: ModelConfig
    objective: Objective
    space: SearchSpace
    tuners: tuple[TunerConfig, ...]
    seed: int = 0
    output: Path = Path("runs")
    max_consecutive_failures: int = 3
    text: str = ""
    base_dir: Path | None = None
    training: TrainingConfig = TrainingConfig()

    def search_paths(self) -> tuple[Path, ...]:
        """Folders searched for a custom model module: the config file's folder."""
        return (self.base_dir,) if self.base_dir is not None else ()

    def reported_metrics(self) -> list[str]:
        """Return every metric name the model reports during fit, validation included."""
        return list(self.model.metrics) + [f"val_{m}" for m in self.model.metrics]

    def with_tuners(self, tuners: tuple[TunerConfig, ...]) -> Experiment:
        return replace(self, tuners=tuners)


# Each table's keys and what they accept. `_check_keys` uses these to reject
# unknown keys and suggest the closest known one.
_MAX_SEED = 2**32 - 1
# Keras metrics whose better direction is fixed; others are the user's to state.
_KNOWN_DIRECTIONS = {
    **dict.fromkeys(
        ("loss", "mse", "mae", "mean_squared_error", "mean_absolute_error", "categorical_crossentropy",
         "sparse_categorical_crossentropy"),
        "min",
    ),
    **dict.fromkeys(
        ("accuracy", "acc", "categorical_accuracy", "sparse_categorical_accuracy", "top_k_categorical_accuracy",
         "auc", "precision", "recall"),
        "max",
    ),
}
_EXPERIMENT_KEYS = ("name", "seed", "output", "max_consecutive_failures")
_DATASET_KEYS = ("name", "path", "train_size", "test_size", "validation_split", "test_split", "image_size")
_MODEL_KEYS = ("family", "backbone", "weights", "image_size", "function", "metrics")
_OBJECTIVE_KEYS = ("metric", "direction")
_BUDGET_KEYS = ("max_trials", "epochs", "executions_per_trial", "batch_size")
_TRAINING_KEYS = ("mixed_precision", "jit_compile")
_HP_KEYS = ("name", "type", "min", "max", "step", "values", "default")
_TUNER_SETTINGS: dict[str, dict[str, str]] = {
    "random": {},
    "bayesian": {"num_initial_points": "int", "alpha": "float", "beta": "float"},
    "hyperband": {"factor": "int", "hyperband_iterations": "int"},
    "grid": {},
    "aisara": {"trials_per_round": "int", "rounds": "rounds", "tie_break": "str"},
    "aisara-cloud": {"trials_per_round": "int", "rounds": "int", "tie_break": "str", "api_key_env": "str"},
}
_TOP_KEYS = ("experiment", "dataset", "model", "objective", "budget", "training", "space", "tuners")


def load_experiment(path: str | Path, base_dir: Path | None = None) -> Experiment:
    """Read and validate an experiment file; its relative paths start from `base_dir`, or else from its folder.

    Raises `ConfigError` for a missing or unreadable file, invalid TOML and
    every invalid value, before anything is written or TensorFlow imported.
    """
    path = Path(path)
    source = str(path)
    if not path.exists():
        raise ConfigError(source, "", "file not found; check the path or start from sample_configs/quickstart.toml")
    if path.is_dir():
        raise ConfigError(source, "", "is a directory, not an experiment file; pass a .toml file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(source, "", f"cannot be read ({error}); check its permissions and encoding (UTF-8)") from None
    return parse_experiment(text, source=source, base_dir=base_dir if base_dir is not None else path.parent)


def parse_experiment(text: str, source: str = "<config>", base_dir: Path | None = None) -> Experiment:
    """Validate experiment TOML `text`; `source` names it in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(source, "", f"invalid TOML: {error}; fix the syntax at that line") from None
    return _Validator(source, base_dir or Path.cwd()).experiment(data, text)


class _Validator:
    """Walks the parsed TOML; each method validates one table."""

    def __init__(self, source: str, base_dir: Path) -> None:
        self.source = source
        self.base_dir = base_dir

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(self.source, key, problem)

    # -- tables ------------------------------------------------------------

    def experiment(self, data: dict[str, Any], text: str) -> Experiment:
        self.check_keys(data, "", _TOP_KEYS)
        for key in ("space", "tuners"):
            if key not in data:
                raise self.fail(key, f"missing; add at least one [[{key}]] table (see sample_configs/quickstart.toml)")

        experiment = self.table(data, "experiment", required=False)
        self.check_keys(experiment, "experiment", _EXPERIMENT_KEYS)
        name = self.get(experiment, "experiment.name", "str", default=Path(self.source).stem or "experiment")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
            raise self.fail(
                "experiment.name",
                f"{name!r} is not a valid name; use letters, digits, '-', '_' and '.' only, since it names the run directory",
            )
        seed = self.get(experiment, "experiment.seed", "int", default=0)
        # NumPy and scikit-learn take seeds as unsigned 32-bit integers.
        if not 0 <= seed <= _MAX_SEED:
            raise self.fail("experiment.seed", f"{seed} is out of range; use a whole number from 0 to {_MAX_SEED}")
        output = Path(self.get(experiment, "experiment.output", "str", default="runs"))
        failures = self.get(experiment, "experiment.max_consecutive_failures", "int", default=3)
        self.at_least("experiment.max_consecutive_failures", failures, 1)

        dataset = self.dataset(self.table(data, "dataset", required=True))
        model = self.model(self.table(data, "model", required=True))
        space = self.space(data["space"])
        self.space_fits_model(space, model)
        objective = self.objective(self.table(data, "objective", required=False), model)
        budget = self.table(data, "budget", required=False)
        self.check_keys(budget, "budget", _BUDGET_KEYS)
        tuners = self.tuners(data["tuners"], budget, space, objective, model)
        training = self.training(self.table(data, "training", required=False))

        return Experiment(
            name=name,
            source=Path(self.source) if self.source != "<config>" else None,
            dataset=dataset,
            model=model,
            objective=objective,
            space=space,
            tuners=tuners,
            seed=seed,
            output=output,
            max_consecutive_failures=failures,
            text=text,
            base_dir=self.base_dir.resolve(),
            training=training,
        )

    def dataset(self, table: dict[str, Any]) -> DatasetConfig:
        self.check_keys(table, "dataset", _DATASET_KEYS)
        name = self.get(table, "dataset.name", "str", required=True)
        self.one_of("dataset.name", name, DATASETS, "data set")

        path = None
        raw_path = self.get(table, "dataset.path", "str", default=None)
        if name in ("npz", "images"):
            if raw_path is None:
                kind = "an .npz file" if name == "npz" else "a folder with one subfolder per class"
                raise self.fail("dataset.path", f"missing; the '{name}' data set needs path = {kind}")
            path = (self.base_dir / raw_path).expanduser()
            if not path.exists():
                raise self.fail("dataset.path", f"{raw_path!r} not found (looked at {path}); check the path")
            if name == "npz" and not path.is_file():
                raise self.fail("dataset.path", f"{raw_path!r} is not a file; point it at an .npz file")
            if name == "images" and not path.is_dir():
                raise self.fail("dataset.path", f"{raw_path!r} is not a folder; point it at a folder of class subfolders")
        elif raw_path is not None:
            raise self.fail("dataset.path", f"the '{name}' data set takes no path; remove it, or use name = \"npz\"")

        train_size = self.get(table, "dataset.train_size", "int", default=None)
        test_size = self.get(table, "dataset.test_size", "int", default=None)
        for key, value in (("dataset.train_size", train_size), ("dataset.test_size", test_size)):
            if value is not None:
                self.at_least(key, value, 10)
        validation_split = self.get(table, "dataset.validation_split", "float", default=0.2)
        test_split = self.get(table, "dataset.test_split", "float", default=0.2)
        for key, value in (("dataset.validation_split", validation_split), ("dataset.test_split", test_split)):
            if not 0.0 < value < 1.0:
                raise self.fail(key, f"{value!r} is out of range; use a fraction between 0 and 1, such as 0.2")
        if validation_split + test_split >= 0.9:
            raise self.fail(
                "dataset.validation_split",
                f"validation_split {validation_split} plus test_split {test_split} leaves under 10% for training; lower them",
            )

        image_size = None
        raw_size = self.get(table, "dataset.image_size", "list", default=None)
        if raw_size is not None:
            if len(raw_size) != 2 or not all(isinstance(v, int) and v >= 8 for v in raw_size):
                raise self.fail("dataset.image_size", f"{raw_size!r} is invalid; write [height, width] in pixels, each at least 8")
            image_size = (raw_size[0], raw_size[1])
        return DatasetConfig(name, path, train_size, test_size, validation_split, test_split, image_size)

    def model(self, table: dict[str, Any]) -> ModelConfig:
        self.check_keys(table, "model", _MODEL_KEYS)
        family = self.get(table, "model.family", "str", required=True)
        self.one_of("model.family", family, MODEL_FAMILIES, "model family")

        backbone = self.get(table, "model.backbone", "str", default="MobileNetV2")
        weights = self.get(table, "model.weights", "str", default="none")
        image_size = self.get(table, "model.image_size", "int", default=None)
        function = self.get(table, "model.function", "str", default=None)
        metrics = tuple(self.get(table, "model.metrics", "list", default=list(BUILTIN_METRICS)))

        if family == "pretrained":
            self.one_of("model.backbone", backbone, BACKBONES, "backbone")
            if weights not in ("imagenet", "none"):
                raise self.fail("model.weights", f"{weights!r} is not valid; use \"imagenet\" or \"none\"")
            if image_size is not None:
                self.at_least("model.image_size", image_size, 32)
        if family == "custom":
            if function is None:
                raise self.fail("model.function", "missing; the custom family needs function = \"package.module:build_model\"")
            if not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", function):
                raise self.fail("model.function", f"{function!r} is not of the form \"module:function\"; e.g. \"mymodels:build\"")
        elif function is not None:
            raise self.fail("model.function", f"only the custom family takes a function; remove it or set family = \"custom\"")
        if family != "custom" and "metrics" in table:
            raise self.fail("model.metrics", f"the {family} family always reports {list(BUILTIN_METRICS)}; remove metrics")
        if not metrics or not all(isinstance(m, str) and m for m in metrics):
            raise self.fail("model.metrics", f"{list(metrics)!r} is invalid; list metric names such as [\"loss\", \"accuracy\"]")
        return ModelConfig(family, backbone, None if weights == "none" else weights, image_size, function, metrics)

    def training(self, table: dict[str, Any]) -> TrainingConfig:
        self.check_keys(table, "training", _TRAINING_KEYS)
        mixed_precision = self.get(table, "training.mixed_precision", "bool", default=False)
        jit_compile = table.get("jit_compile", "auto")
        if not isinstance(jit_compile, bool) and jit_compile != "auto":
            raise self.fail(
                "training.jit_compile",
                f"{jit_compile!r} ({_type_name(jit_compile)}) is not valid; use true, false or \"auto\"",
            )
        return TrainingConfig(mixed_precision=mixed_precision, jit_compile=jit_compile)

    def objective(self, table: dict[str, Any], model: ModelConfig) -> Objective:
        self.check_keys(table, "objective", _OBJECTIVE_KEYS)
        metric = self.get(table, "objective.metric", "str", default="val_accuracy")
        reported = list(model.metrics) + [f"val_{m}" for m in model.metrics]
        if metric not in reported:
            hint = difflib.get_close_matches(metric, reported, n=1)
            suggestion = f"did you mean {hint[0]!r}? " if hint else ""
            raise self.fail(
                "objective.metric",
                f"{metric!r} is not reported by the {model.family} model; {suggestion}it reports {', '.join(reported)}",
            )
        default_direction = "min" if "loss" in metric else "max"
        direction = self.get(table, "objective.direction", "str", default=default_direction)
        if direction not in ("max", "min"):
            raise self.fail("objective.direction", f"{direction!r} is not valid; use \"max\" or \"min\"")
        # A known metric searched the wrong way makes every tuner hunt for the worst models.
        known = _KNOWN_DIRECTIONS.get(metric.removeprefix("val_"))
        if known is not None and direction != known:
            better = "lower" if known == "min" else "higher"
            raise self.fail(
                "objective.direction",
                f"{direction!r} would search for the worst models, since a {better} {metric} is better; "
                f"set direction = \"{known}\" or leave it out",
            )
        return Objective(metric, direction)

    def space(self, items: Any) -> SearchSpace:
        if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
            raise self.fail("space", "must be one or more [[space]] tables, each with name, type, and min/max or values")
        parameters: list[HyperParameter] = []
        for index, item in enumerate(items):
            parameters.append(self.hyperparameter(item, index, [p.name for p in parameters]))
        return SearchSpace(tuple(parameters))

    def hyperparameter(self, item: dict[str, Any], index: int, used_names: list[str]) -> HyperParameter:
        where = f"space[{index}]"
        self.check_keys(item, where, _HP_KEYS)
        name = self.get(item, f"{where}.name", "str", required=True)
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise self.fail(f"{where}.name", f"{name!r} is not a valid name; use letters, digits and '_', e.g. learning_rate")
        if name in used_names:
            raise self.fail(f"{where}.name", f"{name!r} is defined twice; give each hyperparameter its own name")
        where = f"space[{index}] ({name})"
        kind = self.get(item, f"{where}.type", "str", required=True)
        self.one_of(f"{where}.type", kind, HP_TYPES, "hyperparameter type")

        if kind == "choice":
            for key in ("min", "max", "step"):
                if key in item:
                    raise self.fail(f"{where}.{key}", "a choice takes values, not min/max/step; remove it")
            values = self.get(item, f"{where}.values", "list", required=True)
            if not values:
                raise self.fail(f"{where}.values", "empty; list at least one value, e.g. values = [\"relu\", \"tanh\"]")
            if len({type(v) for v in values}) > 1 or not isinstance(values[0], (int, float, str, bool)):
                raise self.fail(f"{where}.values", f"{values!r} mixes types; use values of one type (all numbers or all strings)")
            if len(set(values)) != len(values):
                raise self.fail(f"{where}.values", f"{values!r} repeats a value; list each value once")
            default = item.get("default")
            if default is not None and default not in values:
                raise self.fail(f"{where}.default", f"{default!r} is not one of the values {values!r}; pick one of them")
            return HyperParameter(name, kind, values=tuple(values), default=default)

        if "values" in item:
            raise self.fail(f"{where}.values", f"a {kind} range takes min and max, not values; remove values or use type = \"choice\"")
        number = "int" if kind == "int" else "float"
        low = self.get(item, f"{where}.min", number, required=True)
        high = self.get(item, f"{where}.max", number, required=True)
        if low > high:
            raise self.fail(f"{where}.min", f"min {low!r} is greater than max {high!r}; swap them")
        if kind == "log" and low <= 0:
            raise self.fail(f"{where}.min", f"{low!r} is not valid for a log range, which needs min > 0; use a positive min such as 1e-4")
        step = self.get(item, f"{where}.step", number, default=None)
        if step is not None:
            if kind == "log" and step <= 1:
                raise self.fail(f"{where}.step", f"{step!r} is invalid; a log step is a factor greater than 1, e.g. 10")
            if kind != "log" and step <= 0:
                raise self.fail(f"{where}.step", f"{step!r} is invalid; use a positive step")
            if kind != "log" and step > high - low and high > low:
                raise self.fail(f"{where}.step", f"{step!r} is larger than the range {low}..{high}; use a smaller step")
        default = self.get(item, f"{where}.default", number, default=None)
        if default is not None and not low <= default <= high:
            raise self.fail(f"{where}.default", f"{default!r} is outside [{low}, {high}]; pick a value inside the range")
        return HyperParameter(name, kind, low, high, step, default=default)

    def space_fits_model(self, space: SearchSpace, model: ModelConfig) -> None:
        """Reject hyperparameters the model family never reads, and values it cannot use.

        A misspelled name would otherwise be tuned, reported as a best value,
        and have no effect on the model.
        """
        from .models import hyperparameter_names

        known = hyperparameter_names(model.family)
        for index, parameter in enumerate(space):
            where = f"space[{index}] ({parameter.name})"
            if model.family != "custom" and parameter.name not in known:
                hint = difflib.get_close_matches(parameter.name, known, n=1)
                suggestion = f"did you mean {hint[0]!r}? " if hint else ""
                raise self.fail(
                    f"{where}.name",
                    f"the {model.family} model reads no hyperparameter {parameter.name!r}; {suggestion}it reads {', '.join(known)}",
                )
            # A custom function may give these names other meanings.
            limits = _VALUE_LIMITS.get(parameter.name) if model.family != "custom" else None
            if limits is not None and parameter.is_numeric:
                low, high, fix = limits
                if parameter.min < low or parameter.max > high:
                    raise self.fail(f"{where}.min", f"[{parameter.min:g}, {parameter.max:g}] is out of range; {fix}")
            if parameter.name == "activation" and model.family != "custom":
                for value in parameter.values:
                    if value not in ACTIVATIONS:
                        hint = difflib.get_close_matches(str(value), ACTIVATIONS, n=1)
                        suggestion = f"did you mean {hint[0]!r}? " if hint else ""
                        raise self.fail(
                            f"{where}.values",
                            f"unknown activation {value!r}; {suggestion}known: {', '.join(ACTIVATIONS)}",
                        )

    def tuners(
        self,
        items: Any,
        budget: dict[str, Any],
        space: SearchSpace,
        objective: Objective,
        model: ModelConfig,
    ) -> tuple[TunerConfig, ...]:
        if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
            raise self.fail("tuners", "must be one or more [[tuners]] tables, each with a type such as \"random\"")
        defaults = {
            "max_trials": self.get(budget, "budget.max_trials", "int", default=10),
            "epochs": self.get(budget, "budget.epochs", "int", default=5),
            "executions_per_trial": self.get(budget, "budget.executions_per_trial", "int", default=1),
            "batch_size": self.get(budget, "budget.batch_size", "int", default=32),
        }
        for key, value in defaults.items():
            self.at_least(f"budget.{key}", value, 1)

        tuners: list[TunerConfig] = []
        for index, item in enumerate(items):
            where = f"tuners[{index}]"
            kind = self.get(item, f"{where}.type", "str", required=True)
            self.one_of(f"{where}.type", kind, TUNER_TYPES, "tuner type")
            settings_spec = _TUNER_SETTINGS[kind]
            for key in item:
                if _SECRET_KEY.search(key) and key != "api_key_env":
                    raise self.fail(
                        f"{where}.{key}",
                        "secrets are never read from the experiment file; remove this key and set the "
                        f"{DEFAULT_API_KEY_ENV} environment variable instead",
                    )
            self.check_keys(item, where, ("type", "name", *_BUDGET_KEYS, *settings_spec))

            name = self.get(item, f"{where}.name", "str", default=kind)
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
                raise self.fail(f"{where}.name", f"{name!r} is not a valid name; use letters, digits, '-', '_' and '.'")
            if name in [t.name for t in tuners]:
                raise self.fail(f"{where}.name", f"{name!r} is used by another tuner; give this one its own name = \"...\"")

            values = {key: self.get(item, f"{where}.{key}", "int", default=default) for key, default in defaults.items()}
            for key, value in values.items():
                self.at_least(f"{where}.{key}", value, 1)

            settings = {}
            for key, kind_of_value in settings_spec.items():
                if key in item:
                    settings[key] = self.setting(item[key], f"{where}.{key}", kind_of_value)
            self.tuner_settings(kind, settings, where, values, space, objective, model)
            tuners.append(TunerConfig(name=name, type=kind, settings=settings, **values))
        return tuple(tuners)

    def tuner_settings(
        self,
        kind: str,
        settings: dict[str, Any],
        where: str,
        budget: dict[str, int],
        space: SearchSpace,
        objective: Objective,
        model: ModelConfig,
    ) -> None:
        if kind == "bayesian":
            if "num_initial_points" in settings:
                self.at_least(f"{where}.num_initial_points", settings["num_initial_points"], 1)
            if settings.get("alpha", 1.0) <= 0:
                raise self.fail(f"{where}.alpha", f"{settings['alpha']!r} is invalid; use a small positive number such as 1e-4")
            if settings.get("beta", 0.0) < 0:
                raise self.fail(f"{where}.beta", f"{settings['beta']!r} is invalid; use a number >= 0 such as 2.6")
        if kind == "hyperband":
            self.at_least(f"{where}.factor", settings.get("factor", 3), 2)
            self.at_least(f"{where}.hyperband_iterations", settings.get("hyperband_iterations", 1), 1)
        if kind == "grid":
            for parameter in space:
                if parameter.type in ("float", "log") and parameter.step is None:
                    raise self.fail(
                        f"{where}.type",
                        f"grid search needs a step for the {parameter.type} hyperparameter {parameter.name!r}; "
                        "add step to it in [[space]], or use another tuner",
                    )
        if kind in ("aisara", "aisara-cloud"):
            choices = [p.name for p in space if p.type == "choice"]
            if choices:
                raise self.fail(
                    f"{where}.type",
                    f"the AiSara method tunes numeric ranges only, and {choices[0]!r} is a choice; "
                    "turn it into an int range or use another tuner",
                )
            per_round = settings.setdefault("trials_per_round", 5)
            self.at_least(f"{where}.trials_per_round", per_round, 2)
            rounds = settings.setdefault("rounds", 3)
            if isinstance(rounds, int):
                self.at_least(f"{where}.rounds", rounds, 1)
            tie_break = settings.setdefault("tie_break", "val_loss" if objective.metric != "val_loss" else "val_accuracy")
            reported = list(model.metrics) + [f"val_{m}" for m in model.metrics]
            if tie_break not in reported:
                hint = difflib.get_close_matches(tie_break, reported, n=1)
                suggestion = f"did you mean {hint[0]!r}? " if hint else ""
                raise self.fail(f"{where}.tie_break", f"{tie_break!r} is not reported by the model; {suggestion}it reports {', '.join(reported)}")
            if kind == "aisara-cloud":
                variable = settings.setdefault("api_key_env", DEFAULT_API_KEY_ENV)
                if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", variable):
                    raise self.fail(f"{where}.api_key_env", f"{variable!r} is not an environment variable name; e.g. AISARA_API_KEY")

    # -- values ------------------------------------------------------------

    def setting(self, value: Any, key: str, kind: str) -> Any:
        if kind == "rounds":
            if value == "auto":
                return value
            return self.coerce(value, key, "int", 'a number of rounds such as 3, or "auto"')
        return self.coerce(value, key, kind)

    def table(self, data: dict[str, Any], key: str, required: bool) -> dict[str, Any]:
        if key not in data:
            if required:
                raise self.fail(key, f"missing; add a [{key}] table (see sample_configs/quickstart.toml)")
            return {}
        value = data[key]
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a table written [{key}], got {_type_name(value)}")
        return value

    def get(self, table: Mapping[str, Any], key: str, kind: str, required: bool = False, default: Any = None) -> Any:
        leaf = key.rsplit(".", 1)[-1]
        if leaf not in table:
            if required:
                raise self.fail(key, f"missing; add {leaf} = ...")
            return default
        return self.coerce(table[leaf], key, kind)

    def coerce(self, value: Any, key: str, kind: str, example: str | None = None) -> Any:
        leaf = key.rsplit(".", 1)[-1]
        ok = {
            "str": isinstance(value, str),
            "int": isinstance(value, int) and not isinstance(value, bool),
            "float": isinstance(value, (int, float)) and not isinstance(value, bool),
            "list": isinstance(value, list),
            "bool": isinstance(value, bool),
        }[kind]
        if not ok:
            expected = {"str": "a string", "int": "an integer", "float": "a number", "list": "a list", "bool": "true or false"}[kind]
            hint = example or {
                "str": f'{leaf} = "..."',
                "int": f"{leaf} = 10",
                "float": f"{leaf} = 0.5",
                "list": f"{leaf} = [...]",
                "bool": f"{leaf} = true",
            }[kind]
            raise self.fail(key, f"expected {expected}, got {value!r} ({_type_name(value)}); write e.g. {hint}")
        if kind == "float":
            value = float(value)
            if math.isnan(value) or math.isinf(value):
                raise self.fail(key, f"{value!r} is not a finite number; use a finite number")
        return value

    def check_keys(self, table: Mapping[str, Any], where: str, allowed: tuple[str, ...]) -> None:
        for key in table:
            if key in allowed:
                continue
            path = f"{where}.{key}" if where else key
            hint = difflib.get_close_matches(key, allowed, n=1)
            if hint:
                raise self.fail(path, f"unknown key; did you mean {hint[0]!r}?")
            raise self.fail(path, f"unknown key; known keys here: {', '.join(allowed)}")

    def one_of(self, key: str, value: str, allowed: tuple[str, ...], what: str) -> None:
        if value in allowed:
            return
        hint = difflib.get_close_matches(value, allowed, n=1)
        suggestion = f"did you mean {hint[0]!r}? " if hint else ""
        raise self.fail(key, f"unknown {what} {value!r}; {suggestion}known: {', '.join(allowed)}")

    def at_least(self, key: str, value: int | float, minimum: int | float) -> None:
        if value < minimum:
            raise self.fail(key, f"{value!r} is too small; use {minimum} or more")


def _type_name(value: Any) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "list", dict: "table"}.get(
        type(value), type(value).__name__
    )
