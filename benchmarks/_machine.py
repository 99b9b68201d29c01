"""Describe the machine and the library versions behind a benchmark's numbers."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata

_PACKAGES = ("tensorflow", "keras", "keras-tuner", "textual", "rich", "pandas", "scipy", "scikit-learn", "numpy")


def describe_machine() -> list[str]:
    """Return lines naming the CPU, core count, load, Python and package versions."""
    lines = [
        f"machine: {_cpu_name()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
        f"python: {sys.version.split()[0]}",
    ]
    if hasattr(os, "getloadavg"):
        one, five, fifteen = os.getloadavg()
        lines.append(f"load average at start: {one:.2f} {five:.2f} {fifteen:.2f}")
    versions = []
    for package in _PACKAGES:
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            continue
    lines.append("versions: " + ", ".join(versions))
    return lines


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"
