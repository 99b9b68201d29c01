"""The AiSara method's pure functions: sampling, best trial, surrogate, bounds."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tunescope.core.space import HyperParameter, SearchSpace
from tunescope.core.tuners import aisara_method as method
from tunescope.core.tuners.aisara_method import TrialResult

STUDY_SPACE = SearchSpace(
    (
        HyperParameter("num_layers", "int", 2, 10),
        HyperParameter("nodes_dense", "int", 64, 512),
        HyperParameter("learning_rate", "log", 1e-4, 1e-2),
    )
)

DROPOUT_SPACE = SearchSpace(
    (
        HyperParameter("dropout", "float", 0.0, 0.5),
        HyperParameter("learning_rate", "log", 1e-4, 1e-2),
    )
)


def score(values: dict) -> float:
    """A smooth objective with its peak at 5 layers and a learning rate of 10**-3.5."""
    return (
        0.93
        - 0.01 * abs(values["num_layers"] - 5)
        - 0.05 * (math.log10(values["learning_rate"]) + 3.5) ** 2
        - 1e-7 * (values["nodes_dense"] - 430) ** 2
    )


def results_for(points: list[dict], start: int = 0) -> list[TrialResult]:
    return [TrialResult(str(start + i), p, score(p), 1.0 - score(p)) for i, p in enumerate(points)]


# -- sampling ---------------------------------------------------------------


def test_initial_bounds_end_on_int_grid() -> None:
    space = SearchSpace((HyperParameter("units", "int", 0, 10, step=3),))
    assert method.initial_bounds(space) == {"units": (0, 9)}


def test_initial_bounds_rejects_choice() -> None:
    space = SearchSpace((HyperParameter("act", "choice", values=("relu", "tanh")),))
    with pytest.raises(ValueError, match="choice"):
        method.initial_bounds(space)


def test_sample_round_inside_bounds() -> None:
    bounds = {"num_layers": (3, 6), "nodes_dense": (100, 300), "learning_rate": (2e-4, 3e-3)}
    points = method.sample_round(STUDY_SPACE, bounds, 20, seed=5)
    assert len(points) == 20
    for point in points:
        for name, (low, high) in bounds.items():
            assert low <= point[name] <= high, (name, point[name])


@pytest.mark.parametrize("name", ["nodes_dense", "learning_rate"])
def test_sample_round_stratified(name: str) -> None:
    bounds = {"num_layers": (2, 10), "nodes_dense": (64, 512), "learning_rate": (1e-4, 1e-3)}
    parameter = STUDY_SPACE.get(name)
    n = 8
    points = method.sample_round(STUDY_SPACE, bounds, n, seed=11)
    strata = sorted(math.floor(parameter.to_unit(p[name], bounds[name]) * n) for p in points)
    # nodes_dense is an int: 449 values in 8 strata put each draw in its own
    # stratum up to the rounding of one value at a stratum's edge.
    if parameter.type == "int":
        assert len(set(strata)) >= n - 1
    else:
        assert strata == list(range(n))


def test_sample_round_ints_uniform_including_ends() -> None:
    # 9 values and 90 strata: each value owns exactly 10 strata.
    points = method.sample_round(STUDY_SPACE, method.initial_bounds(STUDY_SPACE), 90, seed=2)
    counts = Counter(p["num_layers"] for p in points)
    assert sorted(counts) == list(range(2, 11))
    assert set(counts.values()) == {10}


def test_sample_round_ints_uniform_within_bounds() -> None:
    bounds = {"num_layers": (3, 6), "nodes_dense": (64, 512), "learning_rate": (1e-4, 1e-2)}
    points = method.sample_round(STUDY_SPACE, bounds, 40, seed=4)
    counts = Counter(p["num_layers"] for p in points)
    assert counts == {3: 10, 4: 10, 5: 10, 6: 10}


def test_sample_round_repeatable() -> None:
    bounds = method.initial_bounds(STUDY_SPACE)
    assert method.sample_round(STUDY_SPACE, bounds, 5, seed=9) == method.sample_round(STUDY_SPACE, bounds, 5, seed=9)


def test_sample_round_seed_changes_points() -> None:
    bounds = method.initial_bounds(STUDY_SPACE)
    assert method.sample_round(STUDY_SPACE, bounds, 5, seed=9) != method.sample_round(STUDY_SPACE, bounds, 5, seed=10)


# -- best result --------------------------------------------------------------


def test_pick_best_by_objective() -> None:
    results = [TrialResult("a", {}, 0.90, 0.3), TrialResult("b", {}, 0.93, 0.4)]
    assert method.pick_best(results, "max", "min").trial_id == "b"


def test_pick_best_min_direction() -> None:
    results = [TrialResult("a", {}, 0.30), TrialResult("b", {}, 0.20)]
    assert method.pick_best(results, "min", "max").trial_id == "b"


def test_pick_best_tie_break_decides() -> None:
    # Two trials of Fig. 4 in Awang Pon and Prakash (STAIQC, 2021) tie at
    # 0.9256 val_acc, and val_loss separates them.
    results = [TrialResult("a", {}, 0.9256, 0.253831), TrialResult("b", {}, 0.9256, 0.250761)]
    assert method.pick_best(results, "max", "min").trial_id == "b"


def test_pick_best_full_tie_keeps_first() -> None:
    results = [TrialResult("previous", {}, 0.9, 0.2), TrialResult("new", {}, 0.9, 0.2)]
    assert method.pick_best(results, "max", "min").trial_id == "previous"


def test_pick_best_missing_tie_break_loses() -> None:
    results = [TrialResult("a", {}, 0.9, None), TrialResult("b", {}, 0.9, 0.5)]
    assert method.pick_best(results, "max", "min").trial_id == "b"


def test_pick_best_empty() -> None:
    assert method.pick_best([], "max", "min") is None


def test_coinciding_names() -> None:
    points = [{"a": 1, "b": 0.5}, {"a": 1, "b": 0.7}]
    space = SearchSpace((HyperParameter("a", "int", 0, 3), HyperParameter("b", "float", 0, 1)))
    assert method.coinciding_names(space, points) == {"a"}


# -- next bounds ----------------------------------------------------------------


def test_next_bounds_log_not_inverted() -> None:
    # aisaratuners 1.5.2 turns log10(1e-3) = -3 with an error of 0.2 into
    # [-2.4, -3.6]. Here the range runs from 1e-3 / 10**0.6 to 1e-3 * 10**0.6.
    space = SearchSpace((HyperParameter("learning_rate", "log", 1e-4, 1e-2),))
    update = method.next_bounds(
        space, {"learning_rate": (1e-4, 1e-2)}, {"learning_rate": 1e-3}, {"learning_rate": 10**-3.6}, {}, 5
    )
    low, high = update.bounds["learning_rate"]
    assert low == pytest.approx(10**-3.6)
    assert high == pytest.approx(10**-2.4)


def test_next_bounds_zero_best_keeps_range() -> None:
    update = method.next_bounds(
        DROPOUT_SPACE,
        {"dropout": (0.0, 0.5), "learning_rate": (1e-4, 1e-2)},
        {"dropout": 0.0, "learning_rate": 1e-3},
        {"dropout": 0.0, "learning_rate": 1e-3},
        {"dropout": 1.0, "learning_rate": 0.0},
        5,
    )
    low, high = update.bounds["dropout"]
    assert low == 0.0
    assert high == pytest.approx(0.1)
    assert "dropout" not in update.fixed


def test_next_bounds_high_impact_narrower() -> None:
    space = SearchSpace((HyperParameter("a", "float", 0.0, 1.0), HyperParameter("b", "float", 0.0, 1.0)))
    update = method.next_bounds(
        space,
        {"a": (0.0, 1.0), "b": (0.0, 1.0)},
        {"a": 0.5, "b": 0.5},
        {"a": 0.9, "b": 0.9},
        {"a": 0.75, "b": 0.25},
        10,
    )
    assert update.bounds["a"] == pytest.approx((0.4, 0.6))
    assert update.bounds["b"] == pytest.approx((0.2, 0.8))
    assert update.shrinking


def test_next_bounds_far_prediction_not_shrinking() -> None:
    space = SearchSpace((HyperParameter("a", "float", 0.0, 1.0),))
    update = method.next_bounds(space, {"a": (0.2, 0.8)}, {"a": 0.5}, {"a": 0.8}, {"a": 0.0}, 5)
    assert update.bounds["a"] == pytest.approx((0.2, 0.8))
    assert not update.shrinking


def test_next_bounds_ints_on_grid() -> None:
    space = SearchSpace((HyperParameter("units", "int", 16, 128, step=16),))
    update = method.next_bounds(space, {"units": (16, 128)}, {"units": 64}, {"units": 80}, {"units": 0.0}, 5)
    low, high = update.bounds["units"]
    assert low in range(16, 129, 16)
    assert high in range(16, 129, 16)
    assert low <= 64 <= high
    assert (low, high) == (48, 80)


def test_next_bounds_fixed_takes_center() -> None:
    update = method.next_bounds(
        STUDY_SPACE,
        {"num_layers": (2, 10), "nodes_dense": (64, 512), "learning_rate": (1e-4, 1e-2)},
        {"num_layers": 4, "nodes_dense": 200, "learning_rate": 1e-3},
        {"num_layers": 6, "nodes_dense": 300, "learning_rate": 2e-3},
        {},
        5,
        fixed=("num_layers",),
    )
    assert update.bounds["num_layers"] == (4, 4)
    assert update.fixed == ("num_layers",)
    assert update.searchable


def test_next_bounds_narrow_float_fixed() -> None:
    space = SearchSpace((HyperParameter("a", "float", 0.0, 1.0),))
    update = method.next_bounds(space, {"a": (0.5, 0.5004)}, {"a": 0.5002}, {"a": 0.5002}, {}, 5)
    assert update.bounds["a"] == (0.5002, 0.5002)
    assert not update.searchable


# -- surrogate and rounds ----------------------------------------------------------


def test_impacts_favour_relevant_hyperparameter() -> None:
    space = SearchSpace((HyperParameter("x", "float", 0.0, 1.0), HyperParameter("noise", "float", 0.0, 1.0)))
    points = method.sample_round(space, method.initial_bounds(space), 12, seed=1)
    targets = [math.sin(3 * p["x"]) for p in points]
    surrogate = method.fit_surrogate(space, method.initial_bounds(space), ["x", "noise"], points, targets, seed=1)
    impacts = surrogate.impacts()
    assert impacts["x"] > impacts["noise"]
    assert sum(impacts.values()) == pytest.approx(1.0)


def test_choose_exploration_untried_inside_bounds() -> None:
    bounds = method.initial_bounds(STUDY_SPACE)
    points = method.sample_round(STUDY_SPACE, bounds, 5, seed=3)
    exploration = method.choose_exploration(STUDY_SPACE, bounds, results_for(points), None, points, seed=3)
    assert exploration is not None
    assert exploration.point not in points
    for name, (low, high) in bounds.items():
        assert low <= exploration.point[name] <= high
    assert set(exploration.errors) == {str(i) for i in range(5)}


def test_choose_exploration_needs_two_results() -> None:
    bounds = method.initial_bounds(STUDY_SPACE)
    points = method.sample_round(STUDY_SPACE, bounds, 5, seed=3)
    assert method.choose_exploration(STUDY_SPACE, bounds, results_for(points[:1]), None, points, seed=3) is None


def run_round(seed: int) -> method.RoundOutcome:
    bounds = method.initial_bounds(STUDY_SPACE)
    points = method.sample_round(STUDY_SPACE, bounds, 5, seed)
    results = results_for(points)
    exploration = method.choose_exploration(STUDY_SPACE, bounds, results, None, points, seed)
    explored = TrialResult("5", exploration.point, score(exploration.point), 0.0)
    return method.conclude_round(STUDY_SPACE, bounds, results, None, explored, 5, seed)


def test_conclude_round_repeatable() -> None:
    first, second = run_round(21), run_round(21)
    assert first.center == second.center
    assert first.prediction == second.prediction
    assert first.update == second.update


def test_conclude_round_center_is_best() -> None:
    outcome = run_round(8)
    bounds = method.initial_bounds(STUDY_SPACE)
    points = method.sample_round(STUDY_SPACE, bounds, 5, 8)
    assert outcome.center.objective >= max(score(p) for p in points)
    for name, (low, high) in outcome.update.bounds.items():
        assert low <= outcome.center.values[name] <= high


def test_conclude_round_too_few_results() -> None:
    bounds = method.initial_bounds(STUDY_SPACE)
    points = method.sample_round(STUDY_SPACE, bounds, 5, seed=3)
    assert method.conclude_round(STUDY_SPACE, bounds, results_for(points[:1]), None, None, 5, seed=3) is None


def test_conclude_round_fixes_coinciding() -> None:
    bounds = {"num_layers": (2, 10), "nodes_dense": (64, 512), "learning_rate": (1e-4, 1e-2)}
    points = [{**p, "num_layers": 4} for p in method.sample_round(STUDY_SPACE, bounds, 5, seed=6)]
    outcome = method.conclude_round(STUDY_SPACE, bounds, results_for(points), None, None, 5, seed=6)
    assert outcome.update.bounds["num_layers"] == (4, 4)
    assert "num_layers" in outcome.update.fixed
    assert outcome.prediction.impacts["num_layers"] == 0.0


def test_conclude_round_keeps_previous_best() -> None:
    bounds = method.initial_bounds(STUDY_SPACE)
    points = method.sample_round(STUDY_SPACE, bounds, 5, seed=6)
    previous = TrialResult("old", {"num_layers": 5, "nodes_dense": 430, "learning_rate": 10**-3.5}, 0.99, 0.01)
    outcome = method.conclude_round(STUDY_SPACE, bounds, results_for(points), previous, None, 5, seed=6)
    assert outcome.center.trial_id == "old"


# -- properties over random rounds -------------------------------------------------


@st.composite
def hyperparameters_with_bounds(draw: st.DrawFn, name: str) -> tuple[HyperParameter, tuple[float, float]]:
    """Draw an int, float or log hyperparameter and current bounds inside its range."""
    kind = draw(st.sampled_from(["int", "float", "log"]))
    if kind == "int":
        step = draw(st.integers(1, 5))
        low = draw(st.integers(-5, 50))
        count = draw(st.integers(2, 60))
        parameter = HyperParameter(name, "int", low, low + step * (count - 1), step=step)
        grid = parameter.int_values()
        first = draw(st.integers(0, len(grid) - 1))
        last = draw(st.integers(first, len(grid) - 1))
        return parameter, (grid[first], grid[last])

    if kind == "float":
        low = draw(st.sampled_from([0.0, -1.0, 0.5, 10.0]))
        width = draw(st.floats(0.1, 100.0))
        parameter = HyperParameter(name, "float", low, low + width)
    else:
        exponent = draw(st.floats(-6.0, 1.0))
        decades = draw(st.floats(0.5, 4.0))
        parameter = HyperParameter(name, "log", 10**exponent, 10 ** (exponent + decades))
    # Current bounds cover at least 2% of the range, in unit scale.
    start = draw(st.floats(0.0, 0.98))
    end = draw(st.floats(start + 0.02, 1.0))
    return parameter, (method._from_full_unit(parameter, start), method._from_full_unit(parameter, end))


@st.composite
def value_inside(draw: st.DrawFn, parameter: HyperParameter, bounds: tuple[float, float]) -> float:
    """Draw a trial value inside `bounds`, the ends included; ints on the grid."""
    low, high = bounds
    if parameter.type == "int":
        return draw(st.sampled_from([v for v in parameter.int_values() if low <= v <= high]))
    return draw(st.one_of(st.just(low), st.just(high), st.floats(low, high)))


@st.composite
def random_updates(draw: st.DrawFn) -> dict:
    count = draw(st.integers(1, 4))
    pairs = [draw(hyperparameters_with_bounds(f"hp{i}")) for i in range(count)]
    space = SearchSpace(tuple(p for p, _ in pairs))
    bounds = {p.name: b for p, b in pairs}
    center = {p.name: draw(value_inside(p, b)) for p, b in pairs}
    predicted = {p.name: draw(value_inside(p, b)) for p, b in pairs}
    impacts = {p.name: draw(st.floats(0.0, 1.0)) for p, _ in pairs}
    fixed = draw(st.sets(st.sampled_from(space.names)))
    trials_per_round = draw(st.integers(2, 10))
    return dict(
        space=space,
        bounds=bounds,
        center=center,
        predicted=predicted,
        impacts=impacts,
        trials_per_round=trials_per_round,
        fixed=tuple(fixed),
    )


@settings(max_examples=300, deadline=None)
@given(random_updates())
def test_next_bounds_never_inverts_or_escapes(case: dict) -> None:
    update = method.next_bounds(**case)
    for parameter in case["space"]:
        name = parameter.name
        low, high = update.bounds[name]
        previous_low, previous_high = case["bounds"][name]
        assert low <= high
        assert previous_low <= low
        assert high <= previous_high
        assert parameter.min <= low
        assert high <= parameter.max
        assert low <= case["center"][name] <= high


@settings(max_examples=300, deadline=None)
@given(random_updates())
def test_next_bounds_ints_stay_on_grid(case: dict) -> None:
    update = method.next_bounds(**case)
    for parameter in case["space"]:
        if parameter.type == "int":
            low, high = update.bounds[parameter.name]
            assert low in parameter.int_values()
            assert high in parameter.int_values()


@settings(max_examples=200, deadline=None)
@given(st.floats(0.02, 1.0), st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.integers(2, 10))
def test_next_bounds_zero_best_never_collapses(upper: float, predicted: float, impact: float, n: int) -> None:
    # A dropout whose best value is 0.0: the range keeps at least one stratum.
    space = SearchSpace((HyperParameter("dropout", "float", 0.0, 1.0),))
    bounds = {"dropout": (0.0, upper)}
    update = method.next_bounds(
        space, bounds, {"dropout": 0.0}, {"dropout": predicted * upper}, {"dropout": impact}, n
    )
    low, high = update.bounds["dropout"]
    assert low == 0.0
    assert high >= upper / n * (1 - 1e-9)


@st.composite
def random_rounds(draw: st.DrawFn) -> dict:
    count = draw(st.integers(1, 3))
    pairs = [draw(hyperparameters_with_bounds(f"hp{i}")) for i in range(count)]
    space = SearchSpace(tuple(p for p, _ in pairs))
    bounds = {p.name: b for p, b in pairs}
    n = draw(st.integers(2, 6))
    seed = draw(st.integers(0, 2**16))
    points = method.sample_round(space, bounds, n, seed)
    objectives = draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n))
    results = [TrialResult(str(i), p, y, 1.0 - y) for i, (p, y) in enumerate(zip(points, objectives))]
    return dict(space=space, bounds=bounds, results=results, n=n, seed=seed)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_rounds())
def test_round_bounds_stay_inside(case: dict) -> None:
    space, bounds = case["space"], case["bounds"]
    outcome = method.conclude_round(space, bounds, case["results"], None, None, case["n"], case["seed"])
    assert outcome is not None
    for parameter in space:
        low, high = outcome.update.bounds[parameter.name]
        assert low <= high
        assert bounds[parameter.name][0] <= low
        assert high <= bounds[parameter.name][1]
        assert low <= outcome.center.values[parameter.name] <= high
    if outcome.prediction is not None:
        assert all(0.0 <= impact <= 1.0 for impact in outcome.prediction.impacts.values())
