"""The smallest real experiment the command-line and app tests run end to end."""

from __future__ import annotations

from pathlib import Path


def tiny_experiment(name: str = "tiny", output: Path | None = None, epochs: int = 1, max_trials: int = 2) -> str:
    """Return experiment TOML: digits (150 training samples), a dense network, random search."""
    output_line = f'output = "{output}"\n' if output is not None else ""
    return f"""
[experiment]
name = "{name}"
seed = 1
{output_line}[dataset]
name = "digits"
train_size = 150
test_size = 100
[model]
family = "dnn"
[budget]
max_trials = {max_trials}
epochs = {epochs}
batch_size = 64
[[space]]
name = "num_layers"
type = "int"
min = 1
max = 2
[[space]]
name = "learning_rate"
type = "log"
min = 1e-3
max = 1e-2
[[tuners]]
type = "random"
"""
