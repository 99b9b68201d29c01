"""The engine's fits train on the study's tf.data pipelines when given the study's arrays."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tunescope.core.config import ModelConfig
from tunescope.core.data import Dataset, InputPipelines

keras_tuner = pytest.importorskip("keras_tuner")
tf = pytest.importorskip("tensorflow")

from tunescope.core.tuners.tuner import FamilyHyperModel  # noqa: E402  (needs Keras Tuner)


class RecordingModel:
    """Stands in for a keras.Model and records what `fit` receives."""

    def fit(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs


def small_dataset() -> Dataset:
    x = np.zeros((12, 3), dtype=np.float32)
    y = np.arange(12) % 2
    return Dataset("small", x[:8], y[:8], x[8:], y[8:], x[:0], y[:0], num_classes=2)


def hypermodel(dataset: Dataset) -> FamilyHyperModel:
    return FamilyHyperModel(ModelConfig(family="dnn"), (3,), 2, batch_size=4, pipelines=InputPipelines(dataset))


def test_fit_on_study_arrays_uses_pipelines():
    dataset = small_dataset()
    model = RecordingModel()

    hypermodel(dataset).fit(
        keras_tuner.HyperParameters(), model, dataset.x_train, dataset.y_train,
        validation_data=(dataset.x_val, dataset.y_val), epochs=1,
    )

    assert len(model.args) == 1
    assert isinstance(model.args[0], tf.data.Dataset)
    assert isinstance(model.kwargs["validation_data"], tf.data.Dataset)
    assert model.kwargs["shuffle"] is False
    assert "batch_size" not in model.kwargs
    assert model.kwargs["epochs"] == 1


def test_fit_on_other_arrays_passes_them_through():
    dataset = small_dataset()
    model = RecordingModel()
    other = dataset.x_train.copy()

    hypermodel(dataset).fit(
        keras_tuner.HyperParameters(), model, other, dataset.y_train,
        validation_data=(dataset.x_val, dataset.y_val), epochs=1,
    )

    assert model.args[0] is other
    assert model.kwargs["batch_size"] == 4
