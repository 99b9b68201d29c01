"""Search-space conversions and Latin hypercube sampling."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from tunescope.core.space import HyperParameter, SearchSpace

STUDY_SPACE = SearchSpace(
    (
        HyperParameter("num_layers", "int", 2, 10),
        HyperParameter("nodes_dense", "int", 64, 512),
        HyperParameter("learning_rate", "log", 1e-4, 1e-2),
    )
)


def test_int_draws_uniform_including_ends() -> None:
    parameter = HyperParameter("n", "int", 1, 4)
    counts = Counter(parameter.from_unit(i / 4000) for i in range(4000))
    assert sorted(counts) == [1, 2, 3, 4]
    assert set(counts.values()) == {1000}


def test_int_respects_step() -> None:
    parameter = HyperParameter("units", "int", 16, 128, step=16)
    values = {parameter.from_unit(i / 100) for i in range(100)}
    assert values == set(range(16, 129, 16))


def test_log_maps_in_log_space() -> None:
    parameter = HyperParameter("lr", "log", 1e-4, 1e-2)
    assert parameter.from_unit(0.5) == pytest.approx(1e-3)
    assert parameter.to_unit(1e-3) == pytest.approx(0.5)


def test_from_unit_honours_bounds() -> None:
    parameter = HyperParameter("lr", "log", 1e-4, 1e-2)
    value = parameter.from_unit(0.0, bounds=(1e-3, 2e-3))
    assert value == pytest.approx(1e-3)


def test_latin_hypercube_stratified() -> None:
    points = STUDY_SPACE.latin_hypercube(10, seed=3)
    units = sorted(math.floor(STUDY_SPACE.get("learning_rate").to_unit(p["learning_rate"]) * 10) for p in points)
    assert units == list(range(10))


def test_latin_hypercube_inside_bounds() -> None:
    bounds = {"num_layers": (3, 5), "nodes_dense": (100, 200), "learning_rate": (1e-3, 5e-3)}
    for point in STUDY_SPACE.latin_hypercube(25, seed=1, bounds=bounds):
        for name, (low, high) in bounds.items():
            assert low <= point[name] <= high


def test_latin_hypercube_repeatable() -> None:
    assert STUDY_SPACE.latin_hypercube(5, seed=7) == STUDY_SPACE.latin_hypercube(5, seed=7)


def test_grid_values_for_log_step() -> None:
    parameter = HyperParameter("lr", "log", 1e-4, 1e-2, step=10)
    assert parameter.grid_values() == pytest.approx([1e-4, 1e-3, 1e-2])


def test_dicts_round_trip() -> None:
    assert SearchSpace.from_dicts(STUDY_SPACE.to_dicts()) == STUDY_SPACE


def test_keras_tuner_conversion() -> None:
    hp = STUDY_SPACE.to_keras_tuner()
    by_name = {p.name: p for p in hp.space}
    assert by_name["num_layers"].min_value == 2
    assert by_name["num_layers"].max_value == 10
    assert by_name["learning_rate"].sampling == "log"


def test_aisara_round_trip_of_study_space() -> None:
    hps = STUDY_SPACE.to_aisara()
    assert hps.hps_dict_num["learning_rate"] == pytest.approx([-4.0, -2.0])
    assert SearchSpace.from_aisara(hps) == STUDY_SPACE


def test_aisara_numrange_written_by_user_converts() -> None:
    from aisaratuners.aisara_keras_tuner import Hp

    hps = Hp()
    hps.numrange(name="num_layers", min=2, max=10)
    hps.numrange(name="nodes_dense", min=64, max=512)
    hps.numrange(name="learning_rate", min=0.0001, max=0.01, type="log")
    assert SearchSpace.from_aisara(hps) == STUDY_SPACE


def test_aisara_rejects_choice() -> None:
    space = SearchSpace((HyperParameter("act", "choice", values=("relu", "tanh")),))
    with pytest.raises(ValueError, match="choice"):
        space.to_aisara()
