"""The engine's handling of the experiment's [training] table."""

from __future__ import annotations

import logging

import pytest

from tunescope.core.config import TrainingConfig
from tunescope.core.study import import_tensorflow, warn_about_training


def has_gpu() -> bool:
    return bool(import_tensorflow().config.list_physical_devices("GPU"))


def test_mixed_precision_on_cpu_warns(caplog: pytest.LogCaptureFixture) -> None:
    if has_gpu():
        pytest.skip("the warning is for CPU-only machines")

    with caplog.at_level(logging.WARNING, logger="tunescope.core.study"):
        warn_about_training(TrainingConfig(mixed_precision=True))

    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 1
    assert "mixed_precision is on but no GPU is visible" in messages[0]


def test_float32_training_does_not_warn(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="tunescope.core.study"):
        warn_about_training(TrainingConfig(jit_compile=True))

    assert caplog.records == []
