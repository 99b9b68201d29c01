"""The engine/UI boundary and lazy TensorFlow imports.

core/ must not import Textual or Rich. Keras 3 and scikit-learn import Rich
themselves, so the runtime check covers the modules that keep those imports
lazy, and a static check covers every module's own import statements.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[1] / "core"
ENGINE_MODULES = sorted(
    "tunescope.core." + ".".join(path.relative_to(CORE).with_suffix("").parts)
    for path in CORE.rglob("*.py")
    if path.name != "__init__.py"
)


def loaded_modules(code: str) -> set[str]:
    script = code + "\nimport sys\nprint('\\n'.join(sys.modules))"
    output = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout
    return set(output.split())


# Modules that import Keras at import time by design: they subclass Keras
# Tuner classes. Everything else in core/ must import without Keras.
KERAS_MODULES = {"tunescope.core.tuners.tuner", "tunescope.core.tuners.aisara"}
UI_PACKAGES = ("textual", "rich")


def imported_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(CORE.rglob("*.py")), ids=lambda p: str(p.relative_to(CORE)))
def test_core_source_imports_no_ui(path: Path) -> None:
    for name in imported_names(path):
        assert name.split(".")[0] not in UI_PACKAGES, f"{path.name} imports {name}"


def test_core_imports_no_ui_at_runtime() -> None:
    imports = "\n".join(f"import {name}" for name in ENGINE_MODULES if name not in KERAS_MODULES)
    modules = loaded_modules(imports)
    assert "keras" not in modules
    assert not any(m == "textual" or m.startswith("textual.") for m in modules)
    assert not any(m == "rich" or m.startswith("rich.") for m in modules)


def test_config_loading_skips_tensorflow() -> None:
    modules = loaded_modules("import tunescope.core.config, tunescope.core.study, tunescope.core.store")
    assert "tensorflow" not in modules


def test_cli_help_skips_tensorflow() -> None:
    modules = loaded_modules("import tunescope.tui.cli as c\nc.build_parser()")
    assert "tensorflow" not in modules
    assert "keras" not in modules
