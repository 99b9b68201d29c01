"""Tests that tunescope.core.explain stays light to import."""

from __future__ import annotations

import subprocess
import sys

import pytest

LIST_MODULES = """
import sys
import tunescope.core.explain
print("\\n".join(sorted({name.split(".")[0] for name in sys.modules})))
"""


@pytest.fixture(scope="module")
def loaded_modules() -> set[str]:
    """Top-level modules loaded by importing the package in a fresh interpreter."""
    result = subprocess.run(
        [sys.executable, "-c", LIST_MODULES],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return set(result.stdout.split())


def test_explain_import_succeeds(loaded_modules):
    assert "tunescope" in loaded_modules


@pytest.mark.parametrize("module", ["tensorflow", "keras", "keras_tuner", "textual", "rich", "sklearn"])
def test_explain_import_skips_heavy_module(loaded_modules, module):
    assert module not in loaded_modules
