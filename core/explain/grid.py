"""Objective grids: the objective binned over a pair of hyperparameters.

A grid is the data behind a heat map. `objective_grid` summarises the trials
observed in each cell, and `smoothed_grid` fills every cell from a surrogate
model fitted on the same trials. Passing `y=None` gives a one-row strip over `x`.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..config import Objective
from ..events import TrialFinished
from ..space import HyperParameter, SearchSpace, Value
from ._trials import MIN_TRIALS, is_finite_number, unit_value, usable_trials

logger = logging.getLogger(__name__)

# Relative slack, in bins, for values that land on an edge after rounding.
_EDGE_TOLERANCE = 1e-9

# A Gaussian process fit costs about 0.13 s of CPU for 200 trials
# (benchmarks/bench_importance.py, 2 cores) and grows with the cube of the
# trial count, so larger searches are thinned to this many trials.
MAX_SURROGATE_TRIALS = 300

Matrix = tuple[tuple[float | None, ...], ...]


@dataclass(frozen=True)
class ObjectiveGrid:
    """The objective over bins of hyperparameter `x` (columns) and `y` (rows).

    Row 0 is the lowest `y` bin and column 0 the lowest `x` bin. Bin i spans
    [edges[i], edges[i + 1]), and the last bin also contains its upper edge.
    Edges are in the hyperparameter's units, spaced geometrically on a log
    axis. An axis with one value per bin (a choice, or an int range with no
    more values than bins) lists those values in `x_values` or `y_values`,
    and its edges then lie halfway between neighbouring values. For a choice
    the edges are option indices (-0.5, 0.5, ...). A one-row strip has
    `y == ""` and no `y_edges`.

    `best` holds the best objective of the trials in each cell by
    `direction`, `mean` their mean, `count` how many there were; a cell
    without trials is None. When `smoothed` is true, `best` and `mean` are
    both the surrogate's prediction at the cell centre, every cell is filled,
    and `count` still counts the observed trials.
    """

    x: str
    y: str
    x_edges: tuple[float, ...]
    y_edges: tuple[float, ...]
    x_log: bool
    y_log: bool
    best: Matrix
    mean: Matrix
    count: tuple[tuple[int, ...], ...]
    direction: str
    metric: str
    smoothed: bool = False
    x_values: tuple[Value, ...] = ()
    y_values: tuple[Value, ...] = ()

    @property
    def value_range(self) -> tuple[float, float] | None:
        """(lowest, highest) over the filled cells of `best` and `mean`, or None when all are empty."""
        filled = [v for matrix in (self.best, self.mean) for row in matrix for v in row if v is not None]
        if not filled:
            return None
        return min(filled), max(filled)


@dataclass(frozen=True)
class _Axis:
    """The bins of one hyperparameter's axis."""

    parameter: HyperParameter
    edges: tuple[float, ...]
    values: tuple[Value, ...]

    @property
    def n_bins(self) -> int:
        return len(self.edges) - 1

    @property
    def log(self) -> bool:
        return self.parameter.is_log

    def bin_of(self, value: object) -> int | None:
        """Return the bin index of a trial's value, or None when it falls in no bin."""
        if self.parameter.type == "choice":
            return self.parameter.values.index(value) if value in self.parameter.values else None

        if not is_finite_number(value) or (self.log and value <= 0):
            return None

        scale = math.log10 if self.log else float
        low, high, position = scale(self.edges[0]), scale(self.edges[-1]), scale(value)
        if high == low:
            return 0 if math.isclose(position, low, rel_tol=_EDGE_TOLERANCE, abs_tol=1e-12) else None

        offset = (position - low) / (high - low) * self.n_bins
        if offset < -_EDGE_TOLERANCE or offset > self.n_bins + _EDGE_TOLERANCE:
            return None
        return min(max(math.floor(offset + _EDGE_TOLERANCE), 0), self.n_bins - 1)

    def centre_features(self, index: int) -> list[float]:
        """Surrogate inputs at the centre of bin `index`, encoded like `value_features`."""
        if self.parameter.type == "choice":
            return [1.0 if i == index else 0.0 for i in range(self.n_bins)]
        if self.values:
            return [self.parameter.to_unit(self.values[index])]
        if self.parameter.max == self.parameter.min:
            return [0.0]
        # Edges are evenly spaced in unit coordinates, log axes included.
        return [(index + 0.5) / self.n_bins]

    def value_features(self, value: object) -> list[float] | None:
        """Surrogate inputs for a trial's value: one-hot for a choice, else the unit value."""
        if self.parameter.type == "choice":
            index = self.bin_of(value)
            return None if index is None else self.centre_features(index)
        unit = unit_value(self.parameter, value)
        return None if unit is None else [unit]


def objective_grid(
    trials: Iterable[TrialFinished],
    space: SearchSpace,
    x: str,
    y: str | None,
    objective: Objective,
    bins: tuple[int, int] = (12, 8),
) -> ObjectiveGrid:
    """Bin the completed trials over `x` and `y` and summarise each cell.

    `bins` is (columns, rows) for range axes. Choice axes, and int axes with
    no more values than bins, get one bin per value. Trials where `x` or `y`
    is missing (inactive), NaN or outside the range are left out.
    """
    x_axis, y_axis = _axes(space, x, y, bins)
    cells = _observed_cells(usable_trials(trials), x_axis, y_axis)

    best_of = max if objective.direction == "max" else min
    best = tuple(tuple(best_of(cell) if cell else None for cell in row) for row in cells)
    mean = tuple(tuple(float(np.mean(cell)) if cell else None for cell in row) for row in cells)
    return _make_grid(x_axis, y_axis, best, mean, _counts(cells), objective, smoothed=False)


def smoothed_grid(
    trials: Iterable[TrialFinished],
    space: SearchSpace,
    x: str,
    y: str | None,
    objective: Objective,
    bins: tuple[int, int] = (12, 8),
    seed: int = 0,
) -> ObjectiveGrid:
    """Predict the objective in every cell with a Gaussian process fitted on the trials.

    The surrogate (scikit-learn's GaussianProcessRegressor, Matern kernel
    with one length scale per input plus a white-noise term) takes only `x`
    and `y` as inputs, so the other hyperparameters act as noise. Searches
    with more than 300 usable trials are thinned to 300, evenly spaced by
    trial number. With fewer than 3 usable trials no surrogate is fitted and
    the observed grid is returned, with `smoothed` false.
    """
    x_axis, y_axis = _axes(space, x, y, bins)
    usable = usable_trials(trials)
    cells = _observed_cells(usable, x_axis, y_axis)

    inputs, targets = [], []
    for trial in usable:
        features = _trial_features(trial, x_axis, y_axis)
        if features is not None:
            inputs.append(features)
            targets.append(float(trial.objective))
    if len(inputs) < MIN_TRIALS:
        logger.info(
            "smoothed grid of %s over %s needs %d trials, got %d; showing observed cells",
            objective.metric, x, MIN_TRIALS, len(inputs),
        )
        return objective_grid(usable, space, x, y, objective, bins)
    if len(inputs) > MAX_SURROGATE_TRIALS:
        # Evenly spaced by trial number, so early and late trials both stay.
        keep = np.linspace(0, len(inputs) - 1, MAX_SURROGATE_TRIALS).round().astype(int)
        logger.info("smoothed grid of %s fits %d of %d trials", objective.metric, MAX_SURROGATE_TRIALS, len(inputs))
        inputs, targets = [inputs[i] for i in keep], [targets[i] for i in keep]

    n_rows = y_axis.n_bins if y_axis else 1
    centres = []
    for row in range(n_rows):
        y_features = y_axis.centre_features(row) if y_axis else []
        for column in range(x_axis.n_bins):
            centres.append(x_axis.centre_features(column) + y_features)

    predictions = _fit_and_predict(np.array(inputs), np.array(targets), np.array(centres), seed)
    predicted = tuple(tuple(float(value) for value in row) for row in predictions.reshape(n_rows, x_axis.n_bins))
    return _make_grid(x_axis, y_axis, predicted, predicted, _counts(cells), objective, smoothed=True)


def _fit_and_predict(inputs: np.ndarray, targets: np.ndarray, queries: np.ndarray, seed: int) -> np.ndarray:
    """Fit the Gaussian process surrogate on (inputs, targets) and predict at `queries`."""
    # Imported here because scikit-learn takes about a second to import.
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel
    from threadpoolctl import threadpool_limits

    matern = Matern(length_scale=np.full(inputs.shape[1], 0.3), length_scale_bounds=(1e-2, 1e2), nu=2.5)
    kernel = ConstantKernel(1.0, (1e-3, 1e3)) * matern + WhiteKernel(1e-2, (1e-6, 1e1))
    model = GaussianProcessRegressor(kernel, normalize_y=True, random_state=seed)

    # One BLAS thread, because these matrices are small. On 2 busy cores, 200
    # trials took 0.3 s of wall time this way and 1.2 s with OpenBLAS's
    # default thread count.
    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
        # A length scale at its upper bound only means that input hardly
        # matters, which is a finding, not a failure.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(inputs, targets)
        return model.predict(queries)


def _axes(space: SearchSpace, x: str, y: str | None, bins: tuple[int, int]) -> tuple[_Axis, _Axis | None]:
    for name in (x, y):
        if name is not None and name not in space:
            choices = ", ".join(space.names)
            raise ValueError(f"hyperparameter '{name}' is not in the search space; choose one of {choices}")
    if x == y:
        raise ValueError(f"a grid needs two different hyperparameters, got '{x}' twice")
    if len(bins) != 2 or min(bins) < 1:
        raise ValueError(f"bins must be two counts of at least 1 (columns, rows), got {bins!r}")

    x_axis = _make_axis(space.get(x), bins[0])
    y_axis = _make_axis(space.get(y), bins[1]) if y is not None else None
    return x_axis, y_axis


def _make_axis(parameter: HyperParameter, bins: int) -> _Axis:
    if parameter.type == "choice":
        edges = tuple(i - 0.5 for i in range(len(parameter.values) + 1))
        return _Axis(parameter, edges, tuple(parameter.values))

    if parameter.type == "int":
        step = int(parameter.step or 1)
        n_values = (int(parameter.max) - int(parameter.min)) // step + 1
        if n_values <= bins:
            values = parameter.int_values()
            edges = (values[0] - step / 2, *(value + step / 2 for value in values))
            return _Axis(parameter, tuple(float(e) for e in edges), tuple(values))

    low, high = float(parameter.min), float(parameter.max)
    if high == low:
        return _Axis(parameter, (low, high), ())
    if parameter.is_log:
        edges = np.logspace(math.log10(low), math.log10(high), bins + 1)
    else:
        edges = np.linspace(low, high, bins + 1)
    # 12 significant digits turn 0.00031622776601683783 into 0.000316227766017
    # and 1.0000000000000002e-3 back into 1e-3; the ends are the range exactly.
    rounded = [float(f"{edge:.12g}") for edge in edges]
    rounded[0], rounded[-1] = low, high
    return _Axis(parameter, tuple(rounded), ())


def _observed_cells(trials: Sequence[TrialFinished], x_axis: _Axis, y_axis: _Axis | None) -> list[list[list[float]]]:
    """Return the objective values of the trials in each [row][column] cell."""
    n_rows = y_axis.n_bins if y_axis else 1
    cells: list[list[list[float]]] = [[[] for _ in range(x_axis.n_bins)] for _ in range(n_rows)]

    for trial in trials:
        column = x_axis.bin_of(trial.hyperparameters.get(x_axis.parameter.name))
        row = y_axis.bin_of(trial.hyperparameters.get(y_axis.parameter.name)) if y_axis else 0
        if column is None or row is None:
            continue
        cells[row][column].append(float(trial.objective))
    return cells


def _trial_features(trial: TrialFinished, x_axis: _Axis, y_axis: _Axis | None) -> list[float] | None:
    x_features = x_axis.value_features(trial.hyperparameters.get(x_axis.parameter.name))
    if x_features is None:
        return None
    if y_axis is None:
        return x_features
    y_features = y_axis.value_features(trial.hyperparameters.get(y_axis.parameter.name))
    return None if y_features is None else x_features + y_features


def _counts(cells: list[list[list[float]]]) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(len(cell) for cell in row) for row in cells)


def _make_grid(
    x_axis: _Axis,
    y_axis: _Axis | None,
    best: Matrix,
    mean: Matrix,
    count: tuple[tuple[int, ...], ...],
    objective: Objective,
    smoothed: bool,
) -> ObjectiveGrid:
    return ObjectiveGrid(
        x=x_axis.parameter.name,
        y=y_axis.parameter.name if y_axis else "",
        x_edges=x_axis.edges,
        y_edges=y_axis.edges if y_axis else (),
        x_log=x_axis.log,
        y_log=y_axis.log if y_axis else False,
        best=best,
        mean=mean,
        count=count,
        direction=objective.direction,
        metric=objective.metric,
        smoothed=smoothed,
        x_values=x_axis.values,
        y_values=y_axis.values if y_axis else (),
    )
