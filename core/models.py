"""Model families: build a compiled Keras model from hyperparameter values.

Each family reads its hyperparameters by name and takes the default in
`FAMILY_DEFAULTS` for every name the search space leaves out, so one search
space may tune any subset of them:

- `dnn`: a dense network (Flatten, then `num_layers` Dense layers).
- `cnn`: `conv_blocks` blocks of Conv2D and max pooling, then a dense head.
- `pretrained`: a `keras.applications` backbone with a new dense head.
- `custom`: a user's own ``module:function`` that returns a compiled model.

The built-in families compile with sparse categorical cross-entropy, Adam at
`learning_rate` and the accuracy metric, and with the experiment's
`[training]` settings: mixed precision builds the layers under Keras'
"mixed_float16" policy (the softmax output stays float32), and
`jit_compile` goes to `model.compile`. An invalid hyperparameter value raises
Keras' own error, or a ValueError from this module where Keras would silently
accept it, so the engine records it as a failed trial. Only settings a user
must fix in the experiment file raise `ModelError`. Keras is imported inside
the functions that build models.
"""

from __future__ import annotations

import importlib
import logging
import math
import numbers
import re
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import ModelConfig, TrainingConfig
from .errors import ModelError

if TYPE_CHECKING:
    import keras

logger = logging.getLogger(__name__)

FAMILY_DEFAULTS: dict[str, dict[str, Any]] = {
    # num_layers, nodes_dense and learning_rate are the names that Awang Pon
    # and Prakash, "Hyperparameter Tuning of Deep learning Models in Keras"
    # (STAIQC, 2021), tuned for their dense model.
    "dnn": {"num_layers": 2, "nodes_dense": 64, "learning_rate": 1e-3, "dropout": 0.0, "activation": "relu"},
    "cnn": {
        "conv_blocks": 2,
        "filters": 16,
        "kernel_size": 3,
        "dense_units": 64,
        "learning_rate": 1e-3,
        "dropout": 0.0,
        "activation": "relu",
    },
    "pretrained": {
        "trainable_layers": 0,
        "dense_units": 128,
        "learning_rate": 1e-3,
        "dropout": 0.0,
        "activation": "relu",
    },
    "custom": {},
}

# `fit_options` reads `batch_size`, which no model family reads. Its default
# is the budget's batch size.
FIT_HYPERPARAMETERS = ("batch_size",)

# The smallest input height and width each backbone accepts, from the
# `min_size` checks in keras.applications (Keras 3.15).
BACKBONE_MIN_SIZE: dict[str, int] = {
    "MobileNetV2": 32,
    "MobileNetV3Small": 32,
    "ResNet50": 32,
    "EfficientNetB0": 32,
    "DenseNet121": 32,
    "VGG16": 32,
    "Xception": 71,
    "InceptionV3": 75,
}

# The keras.applications module whose preprocess_input matches each backbone.
_BACKBONE_MODULE: dict[str, str] = {
    "MobileNetV2": "mobilenet_v2",
    "MobileNetV3Small": "mobilenet_v3",
    "ResNet50": "resnet50",
    "EfficientNetB0": "efficientnet",
    "DenseNet121": "densenet",
    "VGG16": "vgg16",
    "Xception": "xception",
    "InceptionV3": "inception_v3",
}


def hyperparameter_names(family: str) -> list[str]:
    """List the hyperparameter names that `family` and `fit_options` read.

    A custom function may read any name, so for `custom` the list contains only
    the names tunescope itself reads.
    """
    _check_family(family)
    return [*FAMILY_DEFAULTS[family], *FIT_HYPERPARAMETERS]


def fit_options(values: Mapping[str, Any], default_batch_size: int) -> dict[str, Any]:
    """Build the keyword arguments for `model.fit` that hyperparameters control."""
    batch_size = _integer(values, "batch_size", default_batch_size, minimum=1)
    return {"batch_size": batch_size}


def count_trainable_params(model: keras.Model) -> int:
    """Count the scalars in the model's trainable weights."""
    return int(sum(math.prod(weight.shape) for weight in model.trainable_weights))


def build_model(
    values: Mapping[str, Any],
    model: ModelConfig,
    input_shape: tuple[int, ...],
    num_classes: int,
    search_paths: Sequence[Path] = (),
    training: TrainingConfig | None = None,
) -> keras.Model:
    """Build and compile the model of `model.family` from hyperparameter `values`.

    `input_shape` is one sample's shape without the batch axis. For the custom
    family, `search_paths` (e.g. the experiment file's folder) are searched
    for the module, along with the current directory. `training` defaults to
    float32 without XLA. A custom function runs under the mixed-precision
    policy when that is on, but its own `compile` call sets `jit_compile`.
    """
    _check_family(model.family)
    training = training or TrainingConfig()
    with _dtype_policy(training.mixed_precision):
        if model.family == "custom":
            return _build_custom(values, model, input_shape, num_classes, search_paths)

        settings = {**FAMILY_DEFAULTS[model.family], **values}
        if model.family == "dnn":
            built = _build_dnn(settings, input_shape, num_classes)
        elif model.family == "cnn":
            built = _build_cnn(settings, input_shape, num_classes)
        else:
            built = _build_pretrained(settings, model, input_shape, num_classes)
        _compile(built, settings, training.jit_compile)
    logger.debug("built %s with %d trainable parameters", built.name, count_trainable_params(built))
    return built


def _check_family(family: str) -> None:
    if family not in FAMILY_DEFAULTS:
        raise ModelError(f"unknown model family {family!r}; use one of {', '.join(FAMILY_DEFAULTS)}")


@contextmanager
def _dtype_policy(mixed_precision: bool) -> Iterator[None]:
    """Build under Keras' "mixed_float16" policy while the block runs, if asked to.

    Keras 3 keeps the policy per thread and `clear_session()` resets it, so
    it is set for each build and restored afterwards.
    """
    if not mixed_precision:
        yield
        return
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _compile(model: keras.Model, settings: Mapping[str, Any], jit_compile: bool | str = "auto") -> None:
    import keras

    learning_rate = float(settings["learning_rate"])
    # Adam accepts a zero, negative or NaN rate and then trains nothing useful.
    if not math.isfinite(learning_rate) or learning_rate <= 0:
        raise ValueError(f"hyperparameter learning_rate must be a positive number, got {settings['learning_rate']!r}")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=jit_compile,
    )


def _integer(values: Mapping[str, Any], name: str, default: int, minimum: int = 0) -> int:
    """Read an integer hyperparameter, accepting whole floats such as 3.0.

    Raises ValueError (a failed trial) for a fraction or a value below `minimum`,
    which Keras layers would otherwise truncate or ignore.
    """
    value = values.get(name, default)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"hyperparameter {name} must be an integer, got {value!r}")
    number = float(value)
    if not number.is_integer():
        raise ValueError(f"hyperparameter {name} must be an integer, got {value!r}")
    if number < minimum:
        raise ValueError(f"hyperparameter {name} must be at least {minimum}, got {value!r}")
    return int(number)


def _classifier(features: Any, settings: Mapping[str, Any], num_classes: int, units_name: str) -> Any:
    """Add the dense head: Dense(units), optional Dropout, softmax output."""
    import keras

    x = keras.layers.Dense(_integer(settings, units_name, 0, minimum=1), activation=settings["activation"])(
        features
    )
    x = _dropout(x, settings)
    return keras.layers.Dense(num_classes, activation="softmax", name="predictions", dtype="float32")(x)


def _dropout(x: Any, settings: Mapping[str, Any]) -> Any:
    import keras

    rate = float(settings["dropout"])
    return keras.layers.Dropout(rate)(x) if rate > 0 else x


# -- dnn ---------------------------------------------------------------------


def _build_dnn(settings: Mapping[str, Any], input_shape: tuple[int, ...], num_classes: int) -> keras.Model:
    import keras

    num_layers = _integer(settings, "num_layers", 0)
    units = _integer(settings, "nodes_dense", 0, minimum=1)

    inputs = keras.Input(shape=input_shape)
    x = keras.layers.Flatten()(inputs)
    for _ in range(num_layers):
        x = keras.layers.Dense(units, activation=settings["activation"])(x)
        x = _dropout(x, settings)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="predictions", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="tunescope_dnn")


# -- cnn ---------------------------------------------------------------------


def _build_cnn(settings: Mapping[str, Any], input_shape: tuple[int, ...], num_classes: int) -> keras.Model:
    import keras

    if len(input_shape) != 3:
        raise ModelError(
            f"the cnn family needs images (height, width, channels) but the data set gives samples of shape "
            f"{tuple(input_shape)}; use family = \"dnn\" for flat feature vectors"
        )
    blocks = _integer(settings, "conv_blocks", 0)
    filters = _integer(settings, "filters", 0, minimum=1)
    kernel_size = _integer(settings, "kernel_size", 0, minimum=1)

    inputs = keras.Input(shape=input_shape)
    x = inputs
    height, width = input_shape[0], input_shape[1]
    for block in range(blocks):
        x = keras.layers.Conv2D(
            filters * 2**block, kernel_size, padding="same", activation=settings["activation"], name=f"conv_{block + 1}"
        )(x)
        # Pooling a map narrower than 2 pixels would shrink it to nothing, so
        # deep stacks on small images (8x8 digits) keep their last maps at 1x1.
        if height >= 2 and width >= 2:
            x = keras.layers.MaxPooling2D(2, name=f"pool_{block + 1}")(x)
            height, width = height // 2, width // 2
    x = keras.layers.Flatten()(x)
    outputs = _classifier(x, settings, num_classes, "dense_units")
    return keras.Model(inputs, outputs, name="tunescope_cnn")


# -- pretrained ----------------------------------------------------------------


def pretrained_image_size(backbone: str, input_shape: tuple[int, ...], image_size: int | None = None) -> tuple[int, int]:
    """Return the (height, width) the backbone receives after resizing.

    `image_size` wins when set. Otherwise inputs keep their size, and a side
    below the backbone's minimum is scaled up to that minimum.
    """
    if image_size is not None:
        return image_size, image_size
    minimum = BACKBONE_MIN_SIZE[backbone]
    return max(int(input_shape[0]), minimum), max(int(input_shape[1]), minimum)


def _build_pretrained(
    settings: Mapping[str, Any], config: ModelConfig, input_shape: tuple[int, ...], num_classes: int
) -> keras.Model:
    import keras

    backbone_name = config.backbone
    if backbone_name not in BACKBONE_MIN_SIZE:
        raise ModelError(f"unknown backbone {backbone_name!r}; use one of {', '.join(BACKBONE_MIN_SIZE)}")
    if len(input_shape) != 3 or input_shape[-1] not in (1, 3):
        raise ModelError(
            f"the pretrained family needs greyscale or RGB images (height, width, 1 or 3) but the data set gives "
            f"samples of shape {tuple(input_shape)}; use family = \"dnn\" for other data"
        )
    weights = None if config.weights in (None, "none") else config.weights
    minimum = BACKBONE_MIN_SIZE[backbone_name]
    if config.image_size is not None and config.image_size < minimum:
        raise ModelError(
            f"model.image_size {config.image_size} is below the {minimum}x{minimum} minimum of {backbone_name}; "
            f"set image_size = {minimum} or more"
        )
    size = pretrained_image_size(backbone_name, input_shape, config.image_size)
    trainable_layers = _integer(settings, "trainable_layers", 0)

    inputs = keras.Input(shape=input_shape)
    x = inputs
    if input_shape[-1] == 1:
        x = keras.ops.repeat(x, 3, axis=-1)
    if tuple(input_shape[:2]) != size:
        x = keras.layers.Resizing(*size, name="resize")(x)
    # Data sets arrive scaled to [0, 1], but every keras.applications
    # preprocess_input expects pixel values in 0..255.
    preprocess = getattr(keras.applications, _BACKBONE_MODULE[backbone_name]).preprocess_input
    x = preprocess(x * 255.0)

    backbone = _load_backbone(backbone_name, weights, (*size, 3))
    _freeze(backbone, trainable_layers)
    # training=False keeps batch normalisation in inference mode, so the
    # statistics of frozen or pretrained layers are not overwritten.
    x = backbone(x, training=False)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = _classifier(x, settings, num_classes, "dense_units")
    return keras.Model(inputs, outputs, name=f"tunescope_{backbone_name.lower()}")


def _load_backbone(name: str, weights: str | None, shape: tuple[int, int, int]) -> keras.Model:
    import keras

    constructor = getattr(keras.applications, name)
    try:
        return constructor(include_top=False, weights=weights, input_shape=shape)
    except Exception as error:
        # keras.utils.get_file raises a bare Exception whose message names
        # the URL when the weights download fails.
        failed = re.match(r"URL fetch failure on (\S+): ", str(error))
        if failed is None:
            raise
        url = failed.group(1)
        file = url.rsplit("/", 1)[-1]
        raise ModelError(
            f"{name}: the ImageNet weights file {file} is not in {_models_cache_dir()} and could not be downloaded "
            f"(no network?); download it from {url} and place it there, or set weights = \"none\""
        ) from error


def _models_cache_dir() -> Path:
    # core/data.py imports NumPy, which the config loader (and with it the
    # app's first screen) reaches through this module and should not pay for.
    from .data import keras_cache_dir

    return keras_cache_dir() / "models"


def _freeze(backbone: keras.Model, trainable_layers: int) -> None:
    """Make only the top `trainable_layers` layers of the backbone trainable."""
    backbone.trainable = trainable_layers > 0
    if trainable_layers == 0:
        return
    layers = backbone.layers
    for index, layer in enumerate(layers):
        layer.trainable = index >= len(layers) - trainable_layers


# -- custom ------------------------------------------------------------------

_SYS_PATH_LOCK = threading.Lock()


@contextmanager
def _extra_sys_path(paths: Sequence[Path]) -> Iterator[None]:
    """Put `paths` at the front of sys.path while a module is imported."""
    with _SYS_PATH_LOCK:
        resolved = dict.fromkeys(str(Path(path).resolve()) for path in paths)
        added = [entry for entry in resolved if entry not in sys.path]
        sys.path[:0] = added
        try:
            yield
        finally:
            for entry in added:
                sys.path.remove(entry)


def _build_custom(
    values: Mapping[str, Any],
    config: ModelConfig,
    input_shape: tuple[int, ...],
    num_classes: int,
    search_paths: Sequence[Path],
) -> keras.Model:
    import keras

    if not config.function or ":" not in config.function:
        raise ModelError(
            f"model.function {config.function!r} is not of the form \"module:function\"; e.g. \"mymodels:build\""
        )
    module_name, function_name = config.function.split(":", 1)
    # The config file's folder is often the current directory; list it once.
    folders = list(dict.fromkeys(Path(folder).resolve() for folder in [*search_paths, Path.cwd()]))

    try:
        with _extra_sys_path(folders):
            module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        missing = error.name or module_name
        if missing != module_name and not module_name.startswith(missing + "."):
            raise ModelError(
                f"model.function: importing {module_name!r} failed because it imports the missing module "
                f"{missing!r}; install that package"
            ) from error
        searched = ", ".join(str(folder) for folder in folders)
        raise ModelError(
            f"model.function: module {module_name!r} not found in {searched} or the installed packages; "
            f"check the name, or put {module_name.replace('.', '/')}.py next to the experiment file"
        ) from error
    except Exception as error:
        raise ModelError(
            f"model.function: importing {module_name!r} failed ({type(error).__name__}: {' '.join(str(error).split())}); "
            "fix the module"
        ) from error

    if not hasattr(module, function_name):
        raise ModelError(
            f"model.function: module {module_name!r} ({getattr(module, '__file__', '?')}) has no attribute "
            f"{function_name!r}; check the name after the colon"
        )
    function = getattr(module, function_name)
    if not callable(function):
        raise ModelError(
            f"model.function: {config.function} is an object of type {type(function).__name__}, not a function; "
            "point it at def function(values, input_shape, num_classes)"
        )

    # Errors raised inside the user's function are left to the caller, which
    # records them as a failed trial.
    built = function(dict(values), tuple(input_shape), num_classes)
    if not isinstance(built, keras.Model):
        raise ModelError(
            f"model.function: {config.function} returned {type(built).__name__}, not a keras.Model; "
            "return the model it builds"
        )
    if not getattr(built, "compiled", False):
        raise ModelError(
            f"model.function: {config.function} returned a model that is not compiled; call model.compile(...) "
            "with a loss and metrics before returning it"
        )
    return built
