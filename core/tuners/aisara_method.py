"""The AiSara method: Latin hypercube rounds that shrink the search space.

Each round trains a Latin hypercube sample drawn over the current bounds.
Between rounds a Gaussian process surrogate, fitted on the round's results and
the best result so far, picks one exploration point where its leave-one-out
error is predicted highest, then predicts the best point and each
hyperparameter's impact. The next bounds are centred on the best result so far
and reach as far as its distance to the predicted best, less for
hyperparameters of high impact.

This module is the method alone, as pure functions on plain values, with no
TensorFlow and no Keras Tuner, so it is tested by value. `aisara.py` drives it
as a Keras Tuner oracle. Bounds map each hyperparameter name to `(lo, hi)` in
the hyperparameter's own units (a learning rate as 1e-3, not as -3).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from threadpoolctl import threadpool_limits

from ..space import HyperParameter, SearchSpace, Value

if TYPE_CHECKING:
    from sklearn.gaussian_process import GaussianProcessRegressor

Bounds = dict[str, tuple[float, float]]

# A round needs this many completed trials before a surrogate can be fitted.
MIN_RESULTS = 2

# Latin hypercube points over the current bounds on which the surrogate is
# evaluated to find the exploration point and the predicted best.
CANDIDATES = 512

# A range counts as shrinking when it narrows by at least this fraction of
# its width; the search stops once no range does.
MIN_SHRINK = 0.05

# A float or log range narrower than this fraction of its original range is
# fixed at its centre. Together with MIN_SHRINK this bounds the number of
# rounds that rounds="auto" can run.
RESOLUTION = 1e-3

# Surrogate inputs are scaled to [0, 1] over the bounds searched, and a
# Latin hypercube of n points spaces them about 1/n apart, so length scales
# below 0.05 would only fit spikes between neighbouring trials.
_LENGTH_SCALE_BOUNDS = (0.05, 100.0)

# Seed offsets that keep the random streams of one round apart.
_SAMPLE, _CANDIDATE, _FIT = 0, 1, 2


@dataclass(frozen=True)
class TrialResult:
    """A completed trial: its values, objective and tie-break metric."""

    trial_id: str
    values: Mapping[str, Value]
    objective: float
    tie_break: float | None = None


@dataclass(frozen=True)
class Exploration:
    """The extra trial of a round, where the surrogate is least reliable.

    `errors` contains each trial's leave-one-out error (absolute difference
    between its objective and the surrogate's prediction without it).
    """

    point: dict[str, Value]
    predicted_error: float
    errors: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Prediction:
    """The surrogate's best point, its predicted objective and the impacts.

    Impacts are normalised inverse length scales of the surrogate's kernel:
    they lie in [0, 1] and sum to 1 over the hyperparameters it was fitted
    on. Hyperparameters left out of the fit have impact 0.
    """

    point: dict[str, Value]
    objective: float
    impacts: dict[str, float]


@dataclass(frozen=True)
class BoundsUpdate:
    """The bounds for the next round.

    `fixed` names the hyperparameters reduced to a single value; `shrinking`
    is whether any range narrowed by at least `MIN_SHRINK` of its width.
    """

    bounds: Bounds
    fixed: tuple[str, ...]
    shrinking: bool

    @property
    def searchable(self) -> bool:
        """Whether any hyperparameter still has a range to search."""
        return any(low < high for low, high in self.bounds.values())


@dataclass(frozen=True)
class RoundOutcome:
    """The conclusions of a finished round.

    `center` is the best result so far (this round, its exploration trial and
    the previous best); its values centre the next bounds. `prediction` is
    None when no hyperparameter varied, so no surrogate could be fitted.
    """

    center: TrialResult
    prediction: Prediction | None
    update: BoundsUpdate


@dataclass(frozen=True)
class Surrogate:
    """A Gaussian process fitted on hyperparameters scaled over `bounds`."""

    space: SearchSpace
    bounds: Bounds
    names: tuple[str, ...]
    model: GaussianProcessRegressor

    def predict(self, points: Sequence[Mapping[str, Value]]) -> np.ndarray:
        """Return the predicted mean at each point."""
        inputs = _unit_matrix(self.space, self.bounds, self.names, points)
        with threadpool_limits(limits=1, user_api="blas"):
            return self.model.predict(inputs)

    def impacts(self) -> dict[str, float]:
        """Return each input's normalised inverse length scale."""
        length_scales = np.atleast_1d(self.model.kernel_.k1.k2.length_scale)
        inverse = 1.0 / length_scales
        shares = inverse / inverse.sum()
        return {name: float(share) for name, share in zip(self.names, shares)}


def derive_seed(seed: int, *keys: int) -> int:
    """Return a 32-bit seed derived from `seed` and `keys`, for separate streams."""
    # SeedSequence takes non-negative entropy only, so the sign is its own key.
    return int(np.random.SeedSequence([abs(seed), int(seed < 0), *keys]).generate_state(1)[0])


def initial_bounds(space: SearchSpace) -> Bounds:
    """Return each hyperparameter's full range as bounds.

    An int range ends at its last value on the step grid, so that bounds
    always end on values a trial can take. Raises `ValueError` for a choice,
    since the method needs numeric ranges.
    """
    bounds: Bounds = {}
    for parameter in space:
        if parameter.type == "choice":
            raise ValueError(
                f"hyperparameter {parameter.name!r} is a choice; the AiSara method tunes numeric ranges only"
            )
        if parameter.type == "int":
            values = parameter.int_values()
            bounds[parameter.name] = (values[0], values[-1])
        else:
            bounds[parameter.name] = (float(parameter.min), float(parameter.max))
    return bounds


def sample_round(space: SearchSpace, bounds: Mapping[str, tuple[float, float]], n: int, seed: int) -> list[dict[str, Value]]:
    """Draw the `n` points of a round by Latin hypercube over `bounds`."""
    return space.latin_hypercube(n, seed=derive_seed(seed, _SAMPLE), bounds=bounds)


def pick_best(
    results: Sequence[TrialResult],
    direction: str = "max",
    tie_break_direction: str = "min",
) -> TrialResult | None:
    """Return the best result by objective, then by tie-break metric.

    On a full tie the earlier result wins, so a caller that lists the
    previous best first keeps it. Returns None for no results.
    """
    best: TrialResult | None = None
    for result in results:
        if best is None or _beats(result, best, direction, tie_break_direction):
            best = result
    return best


def coinciding_names(space: SearchSpace, points: Sequence[Mapping[str, Value]]) -> set[str]:
    """Return the hyperparameters whose values coincide across all `points`."""
    names = set()
    for parameter in space:
        values = [float(point[parameter.name]) for point in points]
        if values and all(math.isclose(value, values[0], rel_tol=1e-12, abs_tol=1e-15) for value in values):
            names.add(parameter.name)
    return names


def fit_surrogate(
    space: SearchSpace,
    bounds: Mapping[str, tuple[float, float]],
    names: Sequence[str],
    points: Sequence[Mapping[str, Value]],
    targets: Sequence[float],
    seed: int,
) -> Surrogate:
    """Fit a Gaussian process of `targets` over the hyperparameters `names`.

    Inputs are scaled to [0, 1] over `bounds` (log ranges in log10 space).
    The kernel is a constant times an anisotropic Matern (nu=2.5) with one
    length scale per hyperparameter, plus white noise for noisy training.
    """
    # scikit-learn 1.9.1 imports Rich when Rich is installed, so it is imported
    # here rather than when the engine imports this module.
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    names = tuple(names)
    kernel = ConstantKernel(1.0, (1e-3, 1e3)) * Matern(
        length_scale=np.ones(len(names)), length_scale_bounds=_LENGTH_SCALE_BOUNDS, nu=2.5
    ) + WhiteKernel(1e-3, (1e-6, 1e-1))
    model = GaussianProcessRegressor(
        kernel=kernel,
        normalize_y=True,
        n_restarts_optimizer=2,
        random_state=derive_seed(seed, _FIT),
    )
    inputs = _unit_matrix(space, bounds, names, points)

    # With a handful of points, length scales often end at a bound, which is
    # expected here. NOTE: catch_warnings changes process-wide filters, so a
    # warning from another thread during the fit may be hidden too.
    # The matrices have a few rows, and a multithreaded BLAS spent about 7
    # times longer on them than one thread (9.9 s against 1.4 s for a round,
    # measured on 2 busy shared cores with TensorFlow loaded).
    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(inputs, np.asarray(targets, dtype=float))
    return Surrogate(space, dict(bounds), names, model)


def leave_one_out_errors(
    space: SearchSpace,
    bounds: Mapping[str, tuple[float, float]],
    names: Sequence[str],
    results: Sequence[TrialResult],
    seed: int,
) -> list[float]:
    """Return each result's absolute error when the surrogate is fitted without it.

    aisaratuners 1.5.2 divides by the objective, which fails for an objective
    of 0. The absolute error ranks the points the same way within a round.
    """
    errors = []
    for index, result in enumerate(results):
        others = [other for position, other in enumerate(results) if position != index]
        model = fit_surrogate(
            space, bounds, names, [o.values for o in others], [o.objective for o in others], seed
        )
        predicted = float(model.predict([result.values])[0])
        errors.append(abs(result.objective - predicted))
    return errors


def candidate_points(
    space: SearchSpace,
    bounds: Mapping[str, tuple[float, float]],
    fixed_values: Mapping[str, Value],
    seed: int,
    n: int = CANDIDATES,
) -> list[dict[str, Value]]:
    """Draw the points where the surrogate is evaluated, valid trial values only.

    Hyperparameters in `fixed_values` take that value in every point.
    """
    points = space.latin_hypercube(n, seed=derive_seed(seed, _CANDIDATE), bounds=bounds)
    return [{**point, **fixed_values} for point in points]


def choose_exploration(
    space: SearchSpace,
    bounds: Mapping[str, tuple[float, float]],
    round_results: Sequence[TrialResult],
    previous_best: TrialResult | None,
    tried: Sequence[Mapping[str, Value]],
    seed: int,
    direction: str = "max",
    tie_break_direction: str = "min",
) -> Exploration | None:
    """Pick the exploration point of a round.

    A second surrogate is fitted on the leave-one-out errors of the round's
    results and the previous best. The exploration point is the untried
    candidate where that surrogate predicts the highest error. Returns None
    when fewer than `MIN_RESULTS` trials completed, when no hyperparameter
    varied, or when every candidate was already tried.
    """
    if len(round_results) < MIN_RESULTS:
        return None
    data = _with_previous(round_results, previous_best)
    center = pick_best(data, direction, tie_break_direction)
    names, fixed_values = _split_varying(space, bounds, round_results, center)
    if not names:
        return None

    errors = leave_one_out_errors(space, bounds, names, data, seed)
    error_model = fit_surrogate(space, bounds, names, [r.values for r in data], errors, seed)

    seen = {_point_key(space, point) for point in tried}
    seen.update(_point_key(space, r.values) for r in data)
    candidates = []
    for point in candidate_points(space, bounds, fixed_values, seed):
        key = _point_key(space, point)
        if key not in seen:
            seen.add(key)
            candidates.append(point)
    if not candidates:
        return None

    predicted = error_model.predict(candidates)
    index = int(np.argmax(predicted))
    return Exploration(
        point=candidates[index],
        predicted_error=float(predicted[index]),
        errors={r.trial_id: float(e) for r, e in zip(data, errors)},
    )


def predict_best(
    space: SearchSpace,
    bounds: Mapping[str, tuple[float, float]],
    names: Sequence[str],
    data: Sequence[TrialResult],
    fixed_values: Mapping[str, Value],
    seed: int,
    direction: str = "max",
) -> Prediction:
    """Fit the objective surrogate on `data` and return its best point and impacts.

    The best point is searched among the candidate points and the points of
    `data`; hyperparameters outside `names` take their `fixed_values`.
    """
    model = fit_surrogate(space, bounds, names, [r.values for r in data], [r.objective for r in data], seed)
    candidates = candidate_points(space, bounds, fixed_values, seed)
    candidates += [{**dict(r.values), **fixed_values} for r in data]
    predicted = model.predict(candidates)
    index = int(np.argmax(predicted) if direction == "max" else np.argmin(predicted))

    impacts = {parameter.name: 0.0 for parameter in space}
    impacts.update(model.impacts())
    return Prediction(point=candidates[index], objective=float(predicted[index]), impacts=impacts)


def next_bounds(
    space: SearchSpace,
    bounds: Mapping[str, tuple[float, float]],
    center: Mapping[str, Value],
    predicted: Mapping[str, Value],
    impacts: Mapping[str, float],
    trials_per_round: int,
    fixed: Collection[str] = (),
) -> BoundsUpdate:
    """Compute the next round's bounds from the best point and the predicted best.

    For each hyperparameter, in its unit scale over the original range (log10
    for log ranges), the half-width is the distance from `center` to
    `predicted` times (1 - impact), but at least one Latin hypercube stratum
    (the current width over `trials_per_round`). The new range is `center`
    plus and minus that half-width, clipped to the current bounds. Ints end
    on values of their step grid. Names in `fixed`, ranges that are already a
    single value and ranges narrower than `RESOLUTION` become `center`'s value.

    aisaratuners 1.5.2 scales the best value itself by (1 - error) and
    (1 + error). That inverts log bounds, whose log10 values are negative, and
    collapses a range whose best value is 0. This form has neither defect.
    """
    new_bounds: Bounds = {}
    new_fixed: list[str] = []
    shrinking = False
    for parameter in space:
        name = parameter.name
        # Bounds that went through a log10 round trip may sit an ulp outside
        # the original range; the new bounds must not.
        low, high = max(bounds[name][0], parameter.min), min(bounds[name][1], parameter.max)
        value = min(max(float(center[name]), low), high)

        if name in fixed or low >= high:
            new_bounds[name] = _point_bounds(parameter, value)
            new_fixed.append(name)
            shrinking = shrinking or low < high
            continue

        unit_low, unit_high = parameter.to_unit(low), parameter.to_unit(high)
        unit_center = parameter.to_unit(value)
        distance = abs(unit_center - parameter.to_unit(float(predicted[name])))
        half_width = distance * (1.0 - min(max(impacts.get(name, 0.0), 0.0), 1.0))
        half_width = max(half_width, (unit_high - unit_low) / trials_per_round)
        new_unit_low = max(unit_low, unit_center - half_width)
        new_unit_high = min(unit_high, unit_center + half_width)

        if parameter.type != "int" and new_unit_high - new_unit_low < RESOLUTION:
            new_bounds[name] = _point_bounds(parameter, value)
            new_fixed.append(name)
            shrinking = True
            continue

        new_low = _from_full_unit(parameter, new_unit_low)
        new_high = _from_full_unit(parameter, new_unit_high)
        if parameter.type == "int":
            new_low, new_high = _snap_int_bounds(parameter, new_low, new_high, low, high, value)
        else:
            # Clamp after the unit round trip, whose rounding may step past
            # the current bounds or the centre by an ulp.
            new_low = min(max(new_low, low), value)
            new_high = max(min(new_high, high), value)
        new_bounds[name] = (new_low, new_high)
        if new_low == new_high:
            new_fixed.append(name)

        old_width = unit_high - unit_low
        new_width = parameter.to_unit(new_high) - parameter.to_unit(new_low)
        shrinking = shrinking or new_width <= old_width * (1.0 - MIN_SHRINK)
    return BoundsUpdate(new_bounds, tuple(new_fixed), shrinking)


def conclude_round(
    space: SearchSpace,
    bounds: Mapping[str, tuple[float, float]],
    round_results: Sequence[TrialResult],
    previous_best: TrialResult | None,
    exploration_result: TrialResult | None,
    trials_per_round: int,
    seed: int,
    direction: str = "max",
    tie_break_direction: str = "min",
) -> RoundOutcome | None:
    """Conclude a round: the best result, the prediction and the next bounds.

    `round_results` are the round's completed Latin hypercube trials, which
    decide which hyperparameters coincide. The surrogate is fitted on them,
    the previous best and the exploration result. Returns None when fewer
    than `MIN_RESULTS` of the round's trials completed.
    """
    if len(round_results) < MIN_RESULTS:
        return None
    data = _with_previous(round_results, previous_best)
    if exploration_result is not None:
        data.append(exploration_result)
    center = pick_best(data, direction, tie_break_direction)
    assert center is not None
    names, fixed_values = _split_varying(space, bounds, round_results, center)

    if names:
        prediction = predict_best(space, bounds, names, data, fixed_values, seed, direction)
        update = next_bounds(
            space, bounds, center.values, prediction.point, prediction.impacts, trials_per_round, tuple(fixed_values)
        )
    else:
        prediction = None
        update = next_bounds(space, bounds, center.values, center.values, {}, trials_per_round, tuple(fixed_values))
    return RoundOutcome(center, prediction, update)


def _beats(result: TrialResult, best: TrialResult, direction: str, tie_break_direction: str) -> bool:
    if not math.isclose(result.objective, best.objective, rel_tol=1e-9, abs_tol=1e-12):
        return result.objective > best.objective if direction == "max" else result.objective < best.objective
    if result.tie_break is None or math.isnan(result.tie_break):
        return False
    if best.tie_break is None or math.isnan(best.tie_break):
        return True
    if tie_break_direction == "max":
        return result.tie_break > best.tie_break
    return result.tie_break < best.tie_break


def _with_previous(round_results: Sequence[TrialResult], previous_best: TrialResult | None) -> list[TrialResult]:
    # The previous best goes first, so that it wins full ties in pick_best.
    data = [previous_best] if previous_best is not None else []
    data.extend(r for r in round_results if previous_best is None or r.trial_id != previous_best.trial_id)
    return data


def _split_varying(
    space: SearchSpace,
    bounds: Mapping[str, tuple[float, float]],
    round_results: Sequence[TrialResult],
    center: TrialResult,
) -> tuple[list[str], dict[str, Value]]:
    """Split the hyperparameters into those the surrogate is fitted on and fixed ones.

    A hyperparameter is fixed when its bounds are one value or its values
    coincide across the round; it then keeps the best result's value.
    """
    coinciding = coinciding_names(space, [r.values for r in round_results])
    names: list[str] = []
    fixed_values: dict[str, Value] = {}
    for parameter in space:
        low, high = bounds[parameter.name]
        if low >= high or parameter.name in coinciding:
            fixed_values[parameter.name] = center.values[parameter.name]
        else:
            names.append(parameter.name)
    return names, fixed_values


def _unit_matrix(
    space: SearchSpace,
    bounds: Mapping[str, tuple[float, float]],
    names: Sequence[str],
    points: Sequence[Mapping[str, Value]],
) -> np.ndarray:
    parameters = [space.get(name) for name in names]
    rows = [[p.to_unit(point[p.name], bounds[p.name]) for p in parameters] for point in points]
    return np.asarray(rows, dtype=float).reshape(len(points), len(parameters))


def _from_full_unit(parameter: HyperParameter, unit: float) -> float:
    """Invert `to_unit` over the original range, without the grid snapping of `from_unit`."""
    if parameter.is_log:
        low, high = math.log10(parameter.min), math.log10(parameter.max)
        value = 10 ** (low + unit * (high - low))
    else:
        value = parameter.min + unit * (parameter.max - parameter.min)
    # The log10 round trip can land an ulp outside the range.
    return min(max(value, parameter.min), parameter.max)


def _point_bounds(parameter: HyperParameter, value: float) -> tuple[float, float]:
    if parameter.type == "int":
        value = int(round(value))
    return (value, value)


def _snap_int_bounds(
    parameter: HyperParameter, new_low: float, new_high: float, low: float, high: float, center: float
) -> tuple[int, int]:
    """Move int bounds to the nearest grid values in [low, center] and [center, high]."""
    grid = [v for v in parameter.int_values() if low <= v <= high]
    below = [v for v in grid if v <= center] or [int(math.ceil(low))]
    above = [v for v in grid if v >= center] or [int(math.floor(high))]
    snapped_low = min(below, key=lambda v: (abs(v - new_low), -v))
    snapped_high = min(above, key=lambda v: (abs(v - new_high), v))
    return snapped_low, snapped_high


def _point_key(space: SearchSpace, point: Mapping[str, Value]) -> tuple[float, ...]:
    # Twelve significant digits: equal within float noise of the unit round trip.
    return tuple(float(f"{float(point[p.name]):.12g}") for p in space)
