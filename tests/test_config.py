"""Experiment-file validation, driven by the broken files in tests/configs/broken.

Each broken file starts with a comment `# expect: <fragment>`; loading it must
raise a one-line `ConfigError` naming the file and containing the fragment.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tunescope.core.config import load_experiment, parse_experiment
from tunescope.core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
BROKEN = sorted((Path(__file__).parent / "configs" / "broken").glob("*.toml"))
SAMPLES = sorted((ROOT / "sample_configs").glob("*.toml"))


def expected_fragment(path: Path) -> str:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} lacks its '# expect:' line"
    return first.removeprefix("# expect: ")


@pytest.mark.parametrize("path", BROKEN, ids=[p.stem for p in BROKEN])
def test_broken_config_rejected(path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_experiment(path)
    message = str(caught.value)
    assert expected_fragment(path) in message
    assert message.startswith(str(path))
    assert "\n" not in message


def test_broken_folder_has_cases() -> None:
    assert len(BROKEN) >= 25


@pytest.mark.parametrize("path", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_sample_config_loads(path: Path) -> None:
    experiment = load_experiment(path)
    assert experiment.tuners
    assert len(experiment.space) >= 3


def test_quickstart_budget_is_shared() -> None:
    experiment = load_experiment(ROOT / "sample_configs" / "quickstart.toml")
    assert {t.max_trials for t in experiment.tuners} == {8}
    assert {t.epochs for t in experiment.tuners} == {6}
    assert [t.type for t in experiment.tuners] == ["random", "bayesian", "hyperband", "aisara"]


def test_missing_file_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_experiment(tmp_path / "absent.toml")


MINIMAL = """
[dataset]
name = "digits"
[model]
family = "dnn"
[[space]]
name = "learning_rate"
type = "log"
min = 1e-4
max = 1e-2
[[tuners]]
type = "random"
"""


def test_defaults_fill_budget_and_objective() -> None:
    experiment = parse_experiment(MINIMAL, source="minimal.toml")
    tuner = experiment.tuners[0]
    assert (tuner.max_trials, tuner.epochs, tuner.executions_per_trial) == (10, 5, 1)
    assert experiment.objective.metric == "val_accuracy"
    assert experiment.objective.direction == "max"
    assert experiment.name == "minimal"


def test_loss_objective_defaults_to_min() -> None:
    experiment = parse_experiment(MINIMAL + '[objective]\nmetric = "val_loss"\n', source="m.toml")
    assert experiment.objective.direction == "min"


def test_tuner_overrides_budget() -> None:
    text = MINIMAL.replace('type = "random"', 'type = "random"\nmax_trials = 3') + "[budget]\nmax_trials = 7\n"
    experiment = parse_experiment(text, source="m.toml")
    assert experiment.tuners[0].max_trials == 3


def test_aisara_settings_defaults() -> None:
    text = MINIMAL.replace('type = "random"', 'type = "aisara"')
    settings = parse_experiment(text, source="m.toml").tuners[0].settings
    assert settings["trials_per_round"] == 5
    assert settings["rounds"] == 3
    assert settings["tie_break"] == "val_loss"


def test_aisara_rounds_auto_accepted() -> None:
    text = MINIMAL.replace('type = "random"', 'type = "aisara"\nrounds = "auto"')
    assert parse_experiment(text, source="m.toml").tuners[0].settings["rounds"] == "auto"


def test_aisara_rounds_text_rejected() -> None:
    text = MINIMAL.replace('type = "random"', 'type = "aisara"\nrounds = "many"')
    with pytest.raises(ConfigError, match=r"tuners\[0\]\.rounds: expected an integer"):
        parse_experiment(text, source="m.toml")


def test_relative_npz_path_resolves_to_config_folder(tmp_path: Path) -> None:
    (tmp_path / "data.npz").write_bytes(b"")
    config = tmp_path / "exp.toml"
    config.write_text(MINIMAL.replace('name = "digits"', 'name = "npz"\npath = "data.npz"'), encoding="utf-8")
    assert load_experiment(config).dataset.path == tmp_path / "data.npz"


def test_training_defaults_off() -> None:
    training = parse_experiment(MINIMAL, source="m.toml").training
    assert training.mixed_precision is False
    assert training.jit_compile == "auto"


def test_training_settings_parsed() -> None:
    text = MINIMAL + "[training]\nmixed_precision = true\njit_compile = true\n"
    training = parse_experiment(text, source="m.toml").training
    assert training.mixed_precision is True
    assert training.jit_compile is True


def test_training_jit_compile_auto_accepted() -> None:
    text = MINIMAL + '[training]\njit_compile = "auto"\n'
    assert parse_experiment(text, source="m.toml").training.jit_compile == "auto"
