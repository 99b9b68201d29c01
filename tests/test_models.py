"""Tests for tunescope.core.models: the dnn, cnn, pretrained and custom families."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tunescope.core.config import BACKBONES, ModelConfig, TrainingConfig
from tunescope.core.errors import ModelError
from tunescope.core.models import (
    BACKBONE_MIN_SIZE,
    FAMILY_DEFAULTS,
    build_model,
    count_trainable_params,
    fit_options,
    hyperparameter_names,
    pretrained_image_size,
)

keras = pytest.importorskip("keras")


def tiny_data(shape: tuple[int, ...], count: int = 16, num_classes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.random((count, *shape), dtype=np.float32), np.arange(count) % num_classes


def fit_one_epoch(model, shape: tuple[int, ...], num_classes: int = 3):
    x, y = tiny_data(shape, num_classes=num_classes)
    return model.fit(x, y, validation_data=(x[:4], y[:4]), epochs=1, batch_size=8, verbose=0)


def keras_trainable_count(model) -> int:
    return int(sum(keras.ops.size(weight) for weight in model.trainable_weights))


def layers_of(model, kind) -> list:
    return [layer for layer in model.layers if isinstance(layer, kind)]


# -- names and options -----------------------------------------------------------


def test_hyperparameter_names_dnn():
    assert hyperparameter_names("dnn") == ["num_layers", "nodes_dense", "learning_rate", "dropout", "activation", "batch_size"]


def test_hyperparameter_names_custom():
    assert hyperparameter_names("custom") == ["batch_size"]


def test_hyperparameter_names_unknown_family():
    with pytest.raises(ModelError, match="unknown model family 'rnn'"):
        hyperparameter_names("rnn")


def test_family_defaults_cover_config_families():
    from tunescope.core.config import MODEL_FAMILIES

    assert set(FAMILY_DEFAULTS) == set(MODEL_FAMILIES)


def test_fit_options_default_batch_size():
    assert fit_options({"learning_rate": 0.01}, default_batch_size=32) == {"batch_size": 32}


def test_fit_options_tuned_batch_size():
    assert fit_options({"batch_size": 64.0}, default_batch_size=32) == {"batch_size": 64}


def test_fit_options_fractional_batch_size():
    with pytest.raises(ValueError, match="batch_size must be an integer"):
        fit_options({"batch_size": 12.5}, default_batch_size=32)


def test_models_module_imports_no_tensorflow():
    code = "import sys, tunescope.core.models; print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)

    assert result.stdout.strip() == "[]"


# -- dnn ---------------------------------------------------------------------


def test_dnn_fits_one_epoch():
    model = build_model({}, ModelConfig(family="dnn"), (8, 8, 1), 3)

    history = fit_one_epoch(model, (8, 8, 1))

    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert model.output_shape == (None, 3)


def test_dnn_defaults_applied():
    model = build_model({}, ModelConfig(family="dnn"), (64,), 10)
    dense = layers_of(model, keras.layers.Dense)

    assert [layer.units for layer in dense] == [64, 64, 10]
    assert dense[0].activation.__name__ == "relu"
    assert layers_of(model, keras.layers.Dropout) == []
    assert model.optimizer.learning_rate.numpy() == pytest.approx(1e-3)


def test_dnn_values_override_defaults():
    values = {"num_layers": 3, "nodes_dense": 8, "dropout": 0.25, "activation": "tanh", "learning_rate": 0.05}
    model = build_model(values, ModelConfig(family="dnn"), (5,), 2)
    dense = layers_of(model, keras.layers.Dense)

    assert [layer.units for layer in dense] == [8, 8, 8, 2]
    assert dense[0].activation.__name__ == "tanh"
    assert [layer.rate for layer in layers_of(model, keras.layers.Dropout)] == [0.25, 0.25, 0.25]
    assert model.optimizer.learning_rate.numpy() == pytest.approx(0.05)


def test_dnn_param_count():
    model = build_model({"num_layers": 2, "nodes_dense": 16}, ModelConfig(family="dnn"), (8, 8, 1), 10)
    expected = (64 * 16 + 16) + (16 * 16 + 16) + (16 * 10 + 10)

    assert count_trainable_params(model) == expected
    assert count_trainable_params(model) == keras_trainable_count(model)
    assert count_trainable_params(model) == model.count_params()


def test_dnn_whole_float_values_accepted():
    model = build_model({"num_layers": 1.0, "nodes_dense": np.float32(4)}, ModelConfig(family="dnn"), (3,), 2)

    assert [layer.units for layer in layers_of(model, keras.layers.Dense)] == [4, 2]


def test_dnn_fractional_layers_rejected():
    with pytest.raises(ValueError, match="num_layers must be an integer"):
        build_model({"num_layers": 2.5}, ModelConfig(family="dnn"), (3,), 2)


def test_dnn_negative_layers_rejected():
    with pytest.raises(ValueError, match="num_layers must be at least 0"):
        build_model({"num_layers": -1}, ModelConfig(family="dnn"), (3,), 2)


def test_dnn_zero_learning_rate_rejected():
    with pytest.raises(ValueError, match="learning_rate must be a positive number"):
        build_model({"learning_rate": 0.0}, ModelConfig(family="dnn"), (3,), 2)


def test_dnn_unknown_activation_raises_keras_error():
    with pytest.raises(ValueError):
        build_model({"activation": "no_such_activation"}, ModelConfig(family="dnn"), (3,), 2)


def test_dnn_default_training_float32_xla_only_on_gpu():
    model = build_model({}, ModelConfig(family="dnn"), (8, 8, 1), 3)

    assert model.dtype_policy.name == "float32"
    assert model.jit_compile is _has_gpu()
    assert not isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)


def test_dnn_mixed_precision_and_xla_reach_model():
    training = TrainingConfig(mixed_precision=True, jit_compile=True)
    model = build_model({"num_layers": 1, "nodes_dense": 8}, ModelConfig(family="dnn"), (8, 8, 1), 3, training=training)

    history = fit_one_epoch(model, (8, 8, 1))

    hidden = layers_of(model, keras.layers.Dense)[0]
    assert model.dtype_policy.name == "mixed_float16"
    assert hidden.compute_dtype == "float16"
    assert hidden.kernel.dtype == "float32"
    assert model.get_layer("predictions").compute_dtype == "float32"
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert model.jit_compile is True
    assert np.isfinite(history.history["loss"][0])


def test_mixed_precision_policy_restored_after_build():
    build_model({}, ModelConfig(family="dnn"), (4,), 2, training=TrainingConfig(mixed_precision=True))

    assert keras.config.dtype_policy().name == "float32"


def test_cnn_jit_compile_auto_left_to_keras():
    model = build_model({}, ModelConfig(family="cnn"), (8, 8, 1), 3, training=TrainingConfig(jit_compile="auto"))

    # Keras 3.15 resolves "auto" to XLA on a GPU and to no XLA on a CPU-only machine.
    assert model.jit_compile is _has_gpu()


def _has_gpu() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


# -- cnn ---------------------------------------------------------------------


def test_cnn_fits_one_epoch():
    model = build_model({}, ModelConfig(family="cnn"), (8, 8, 1), 3)

    history = fit_one_epoch(model, (8, 8, 1))

    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}


def test_cnn_defaults_applied():
    model = build_model({}, ModelConfig(family="cnn"), (8, 8, 1), 10)
    convs = layers_of(model, keras.layers.Conv2D)

    assert [layer.filters for layer in convs] == [16, 32]
    assert convs[0].kernel_size == (3, 3)
    assert [layer.units for layer in layers_of(model, keras.layers.Dense)] == [64, 10]


def test_cnn_five_blocks_on_digits():
    values = {"conv_blocks": 5, "filters": 4, "kernel_size": 5}
    model = build_model(values, ModelConfig(family="cnn"), (8, 8, 1), 10)
    convs = layers_of(model, keras.layers.Conv2D)

    assert [layer.filters for layer in convs] == [4, 8, 16, 32, 64]
    assert len(layers_of(model, keras.layers.MaxPooling2D)) == 3
    height, width = convs[-1].output.shape[1:3]
    assert height >= 1
    assert width >= 1
    fit_one_epoch(model, (8, 8, 1))


def test_cnn_param_count():
    model = build_model(
        {"conv_blocks": 1, "filters": 4, "kernel_size": 3, "dense_units": 5}, ModelConfig(family="cnn"), (6, 6, 1), 2
    )
    # Conv 3x3x1x4 + 4 biases; 6x6 pooled to 3x3x4 = 36 features; Dense 36x5 + 5; output 5x2 + 2.
    expected = (9 * 4 + 4) + (36 * 5 + 5) + (5 * 2 + 2)

    assert count_trainable_params(model) == expected
    assert count_trainable_params(model) == keras_trainable_count(model)


def test_cnn_dropout_applied():
    model = build_model({"dropout": 0.3}, ModelConfig(family="cnn"), (8, 8, 1), 2)

    assert [layer.rate for layer in layers_of(model, keras.layers.Dropout)] == [0.3]


def test_cnn_flat_input_rejected():
    with pytest.raises(ModelError) as caught:
        build_model({}, ModelConfig(family="cnn"), (64,), 10)

    assert "(64,)" in str(caught.value)
    assert 'family = "dnn"' in str(caught.value)


# -- pretrained ----------------------------------------------------------------


def test_pretrained_image_size_minimums():
    assert pretrained_image_size("MobileNetV2", (8, 8, 1)) == (32, 32)
    assert pretrained_image_size("InceptionV3", (40, 100, 3)) == (75, 100)
    assert pretrained_image_size("Xception", (8, 8, 3), image_size=96) == (96, 96)


def test_pretrained_min_sizes_cover_backbones():
    assert set(BACKBONE_MIN_SIZE) == set(BACKBONES)


def test_pretrained_mobilenet_on_grey_digits():
    config = ModelConfig(family="pretrained", backbone="MobileNetV2", weights=None)
    model = build_model({"dense_units": 8}, config, (8, 8, 1), 10)
    backbone = model.get_layer("mobilenetv2_1.00_32")
    head = (backbone.output.shape[-1] * 8 + 8) + (8 * 10 + 10)

    assert model.input_shape == (None, 8, 8, 1)
    assert model.get_layer("resize").output.shape == (None, 32, 32, 3)
    assert backbone.input_shape == (None, 32, 32, 3)
    assert backbone.trainable is False
    assert count_trainable_params(model) == head
    assert count_trainable_params(model) == keras_trainable_count(model)
    assert count_trainable_params(model) < model.count_params()
    fit_one_epoch(model, (8, 8, 1), num_classes=10)


def test_pretrained_trainable_layers():
    config = ModelConfig(family="pretrained", backbone="MobileNetV2", weights=None)
    frozen = build_model({"dense_units": 8}, config, (8, 8, 1), 10)
    tuned = build_model({"dense_units": 8, "trainable_layers": 4}, config, (8, 8, 1), 10)
    backbone = tuned.get_layer("mobilenetv2_1.00_32")
    top = backbone.layers[-4:]
    top_weights = sum(int(np.prod(w.shape)) for layer in top for w in layer.trainable_weights)

    assert all(layer.trainable for layer in top)
    assert not any(layer.trainable for layer in backbone.layers[:-4])
    assert top_weights > 0
    assert count_trainable_params(tuned) == count_trainable_params(frozen) + top_weights


def test_pretrained_rgb_input_keeps_size():
    config = ModelConfig(family="pretrained", backbone="MobileNetV2", weights=None)
    model = build_model({"dense_units": 4}, config, (32, 32, 3), 2)

    assert "resize" not in [layer.name for layer in model.layers]


def test_pretrained_image_size_below_minimum():
    config = ModelConfig(family="pretrained", backbone="Xception", weights=None, image_size=64)

    with pytest.raises(ModelError, match="below the 71x71 minimum of Xception"):
        build_model({}, config, (8, 8, 3), 2)


def test_pretrained_flat_input_rejected():
    with pytest.raises(ModelError, match="greyscale or RGB images"):
        build_model({}, ModelConfig(family="pretrained", weights=None), (64,), 10)


def test_pretrained_imagenet_weights_missing(tmp_path, monkeypatch, no_network):
    from keras.src.backend import config as keras_config

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    # Keras 3.15 reads KERAS_HOME only when keras is imported.
    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(tmp_path))
    # Keras publishes MobileNetV2 weights for 96x96 inputs, so it requests that file without
    # warning that it falls back to the 224x224 weights.
    config = ModelConfig(family="pretrained", backbone="MobileNetV2", weights="imagenet", image_size=96)

    with pytest.raises(ModelError) as caught:
        build_model({}, config, (8, 8, 1), 10)

    message = str(caught.value)
    assert "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.h5 is not in" in message
    assert str(tmp_path / "models") in message
    assert "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/" in message
    assert no_network


@pytest.mark.slow
@pytest.mark.parametrize("backbone", BACKBONES)
def test_pretrained_backbone_builds_at_minimum(backbone):
    config = ModelConfig(family="pretrained", backbone=backbone, weights=None)
    model = build_model({"dense_units": 4}, config, (8, 8, 3), 2)
    x = np.random.default_rng(0).random((2, 8, 8, 3), dtype=np.float32)

    assert model.predict(x, verbose=0).shape == (2, 2)
    minimum = BACKBONE_MIN_SIZE[backbone]
    assert model.get_layer("resize").output.shape == (None, minimum, minimum, 3)


# -- custom ------------------------------------------------------------------

CUSTOM_MODULE = """
import keras

def build(values, input_shape, num_classes):
    inputs = keras.Input(shape=input_shape)
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(int(values.get("width", 4)), activation="relu")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model

def uncompiled(values, input_shape, num_classes):
    inputs = keras.Input(shape=input_shape)
    return keras.Model(inputs, keras.layers.Dense(num_classes)(keras.layers.Flatten()(inputs)))

def not_a_model(values, input_shape, num_classes):
    return "a model"

def broken(values, input_shape, num_classes):
    raise ValueError("width must be positive")

NOT_CALLABLE = 3
"""


@pytest.fixture
def custom_module(tmp_path, monkeypatch):
    """Write a module under a unique name into tmp_path and yield (folder, module name)."""
    name = f"tunescope_custom_{tmp_path.name}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(CUSTOM_MODULE))
    yield tmp_path, name
    sys.modules.pop(name, None)


def test_custom_builds_and_fits(custom_module):
    folder, name = custom_module
    config = ModelConfig(family="custom", function=f"{name}:build")

    model = build_model({"width": 6}, config, (4,), 3, search_paths=[folder])
    history = fit_one_epoch(model, (4,))

    assert count_trainable_params(model) == (4 * 6 + 6) + (6 * 3 + 3)
    assert "val_accuracy" in history.history
    assert str(folder) not in sys.path


def test_custom_module_from_cwd(custom_module, monkeypatch):
    folder, name = custom_module
    monkeypatch.chdir(folder)

    model = build_model({}, ModelConfig(family="custom", function=f"{name}:build"), (4,), 2)

    assert model.output_shape == (None, 2)


@pytest.mark.parametrize(
    ("function", "fragment"),
    [
        ("no_such_module_xyz:build", "module 'no_such_module_xyz' not found"),
        ("{module}:missing", "has no attribute 'missing'"),
        ("{module}:NOT_CALLABLE", "is an object of type int, not a function"),
        ("{module}:not_a_model", "returned str, not a keras.Model"),
        ("{module}:uncompiled", "not compiled"),
    ],
)
def test_custom_invalid_function(custom_module, function, fragment):
    folder, name = custom_module
    config = ModelConfig(family="custom", function=function.format(module=name))

    with pytest.raises(ModelError) as caught:
        build_model({}, config, (4,), 2, search_paths=[folder])

    assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)


def test_custom_missing_dependency(tmp_path):
    name = f"tunescope_needs_dep_{tmp_path.name}"
    (tmp_path / f"{name}.py").write_text("import no_such_dependency_xyz\n")

    with pytest.raises(ModelError, match="imports the missing module 'no_such_dependency_xyz'"):
        build_model({}, ModelConfig(family="custom", function=f"{name}:build"), (4,), 2, search_paths=[tmp_path])


def test_custom_function_error_passes_through(custom_module):
    folder, name = custom_module

    with pytest.raises(ValueError, match="width must be positive"):
        build_model({}, ModelConfig(family="custom", function=f"{name}:broken"), (4,), 2, search_paths=[folder])
