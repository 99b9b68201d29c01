"""The engine/UI boundary and lazy TensorFlow imports, checked in subprocesses."""

from __future__ import annotations

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


@pytest.mark.slow
def test_core_imports_no_ui() -> None:
    imports = "\n".join(f"import {name}" for name in ENGINE_MODULES)
    modules = loaded_modules(imports)
    assert not any(m == "textual" or m.startswith("textual.") for m in modules)
    assert not any(m == "rich" or m.startswith("rich.") for m in modules)


def test_config_loading_skips_tensorflow() -> None:
    modules = loaded_modules("import tunescope.core.config, tunescope.core.study, tunescope.core.store")
    assert "tensorflow" not in modules


def test_cli_help_skips_tensorflow() -> None:
    modules = loaded_modules("import tunescope.tui.cli as c\nc.build_parser()")
    assert "tensorflow" not in modules
    assert "keras" not in modules
