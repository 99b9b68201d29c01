"""Search spaces: hyperparameters, Latin hypercube sampling and conversions.

A `SearchSpace` is the one description every tuner works from. It converts to
`keras_tuner.HyperParameters` for Keras Tuner's oracles and to and from the
`Hp` class of the `aisaratuners` package, whose `numrange` vocabulary the
study uses. Both libraries import TensorFlow, so they are imported only inside
the functions that need them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # NumPy costs about 0.1 s to import, which the app's first screen should not pay.
    import numpy as np

HP_TYPES = ("int", "float", "log", "choice")

Value = int | float | str | bool


@dataclass(frozen=True)
class HyperParameter:
    """One tunable value: a numeric range (int, float, log) or a choice.

    `log` is a float range sampled uniformly in log10 space. `step` is the
    spacing of an int or float range (for `log`, a multiplicative factor, as in
    Keras Tuner). `values` contains the options of a choice.
    """

    name: str
    type: str
    min: float | None = None
    max: float | None = None
    step: float | None = None
    values: tuple[Value, ...] = ()
    default: Value | None = None

    @property
    def is_numeric(self) -> bool:
        return self.type != "choice"

    @property
    def is_log(self) -> bool:
        return self.type == "log"

    def int_values(self) -> list[int]:
        """Return all values of an int range, in order."""
        step = int(self.step or 1)
        return list(range(int(self.min), int(self.max) + 1, step))

    def contains(self, value: Any) -> bool:
        """Return whether `value` lies in this hyperparameter's range or choices."""
        if self.type == "choice":
            return value in self.values
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return False
        if math.isnan(value):
            return False
        tolerance = 1e-9 * max(1.0, abs(self.max))
        return self.min - tolerance <= value <= self.max + tolerance

    def to_unit(self, value: Value, bounds: tuple[float, float] | None = None) -> float:
        """Map a value to [0, 1] over `bounds` (default: the full range).

        Log hyperparameters are mapped in log10 space; a choice maps to its
        index spread over [0, 1].
        """
        if self.type == "choice":
            index = self.values.index(value)
            return index / max(len(self.values) - 1, 1)

        low, high = bounds if bounds is not None else (self.min, self.max)
        if self.is_log:
            low, high, value = math.log10(low), math.log10(high), math.log10(value)
        if high == low:
            return 0.0
        return (float(value) - low) / (high - low)

    def from_unit(self, unit: float, bounds: tuple[float, float] | None = None) -> Value:
        """Map a draw in [0, 1) to a value inside `bounds` (default: the full range).

        Integers and choices split [0, 1) into equal cells, one per value, so
        every value is equally likely, the two end values included.
        """
        unit = min(max(float(unit), 0.0), math.nextafter(1.0, 0.0))

        if self.type == "choice":
            return self.values[int(unit * len(self.values))]

        low, high = bounds if bounds is not None else (self.min, self.max)
        if self.type == "int":
            candidates = [v for v in self.int_values() if low - 1e-9 <= v <= high + 1e-9]
            if not candidates:
                # Bounds narrower than one step: take the value nearest their middle.
                middle = (low + high) / 2
                return min(self.int_values(), key=lambda v: abs(v - middle))
            return candidates[int(unit * len(candidates))]

        if self.is_log:
            log_low, log_high = math.log10(low), math.log10(high)
            value = 10 ** (log_low + unit * (log_high - log_low))
        else:
            value = low + unit * (high - low)
        if self.step and self.type == "float":
            value = self.min + round((value - self.min) / self.step) * self.step
        return float(min(max(value, low), high))

    def grid_values(self) -> list[Value]:
        """Return the values a grid search visits, or [] when the range is continuous."""
        if self.type == "choice":
            return list(self.values)
        if self.type == "int":
            return self.int_values()
        if self.step is None:
            return []
        values: list[Value] = []
        value = float(self.min)
        while value <= self.max * (1 + 1e-9):
            values.append(value)
            value = value * self.step if self.is_log else value + self.step
        return values

    def describe(self) -> str:
        """Return a short human-readable form, e.g. `learning_rate log [0.0001, 0.01]`."""
        if self.type == "choice":
            return f"{self.name} choice {list(self.values)}"
        step = f" step {self.step:g}" if self.step else ""
        return f"{self.name} {self.type} [{self.min:g}, {self.max:g}]{step}"

    def to_dict(self) -> dict[str, Any]:
        """Return the TOML/JSON form of this hyperparameter, without empty fields."""
        data: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.type == "choice":
            data["values"] = list(self.values)
        else:
            data["min"] = self.min
            data["max"] = self.max
            if self.step is not None:
                data["step"] = self.step
        if self.default is not None:
            data["default"] = self.default
        return data


@dataclass(frozen=True)
class SearchSpace:
    """An ordered set of hyperparameters with unique names."""

    parameters: tuple[HyperParameter, ...] = field(default_factory=tuple)

    def __iter__(self) -> Iterator[HyperParameter]:
        return iter(self.parameters)

    def __len__(self) -> int:
        return len(self.parameters)

    def __contains__(self, name: object) -> bool:
        return any(p.name == name for p in self.parameters)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.parameters]

    def get(self, name: str) -> HyperParameter:
        for parameter in self.parameters:
            if parameter.name == name:
                return parameter
        raise KeyError(name)

    def to_dicts(self) -> list[dict[str, Any]]:
        return [p.to_dict() for p in self.parameters]

    @classmethod
    def from_dicts(cls, items: Sequence[Mapping[str, Any]]) -> SearchSpace:
        """Rebuild a space from `to_dicts()` output (already validated data)."""
        parameters = []
        for item in items:
            parameters.append(
                HyperParameter(
                    name=item["name"],
                    type=item["type"],
                    min=item.get("min"),
                    max=item.get("max"),
                    step=item.get("step"),
                    values=tuple(item.get("values", ())),
                    default=item.get("default"),
                )
            )
        return cls(tuple(parameters))

    def latin_hypercube(
        self,
        n: int,
        seed: int | np.random.Generator | None = None,
        bounds: Mapping[str, tuple[float, float]] | None = None,
    ) -> list[dict[str, Value]]:
        """Draw `n` points by Latin hypercube over the space.

        Each hyperparameter's range, or its entry in `bounds`, is cut into `n`
        strata and every stratum gets exactly one draw. Log hyperparameters are
        stratified in log10 space; ints and choices get equal cells per value.
        """
        if n < 1 or not self.parameters:
            return []
        # scipy.stats takes about a second to import, which the command line
        # and the app's first screen should not pay.
        from scipy.stats import qmc

        sampler = qmc.LatinHypercube(d=len(self.parameters), rng=seed)
        units = sampler.random(n)
        points = []
        for row in units:
            point = {}
            for parameter, unit in zip(self.parameters, row):
                limits = bounds.get(parameter.name) if bounds else None
                point[parameter.name] = parameter.from_unit(unit, limits)
            points.append(point)
        return points

    def to_keras_tuner(self) -> Any:
        """Return a `keras_tuner.HyperParameters` holding this space."""
        import keras_tuner

        hp = keras_tuner.HyperParameters()
        for p in self.parameters:
            if p.type == "int":
                hp.Int(p.name, int(p.min), int(p.max), step=int(p.step or 1), default=p.default)
            elif p.type == "float":
                hp.Float(p.name, float(p.min), float(p.max), step=p.step, default=p.default)
            elif p.type == "log":
                hp.Float(p.name, float(p.min), float(p.max), step=p.step, sampling="log", default=p.default)
            else:
                hp.Choice(p.name, list(p.values), default=p.default)
        return hp

    def to_aisara(self) -> Any:
        """Return an `aisaratuners` `Hp` with this space's numeric ranges.

        `Hp.numrange` accepts only int, float and log ranges, so a space with a
        choice cannot be expressed there and raises `ValueError`.
        """
        from aisaratuners.aisara_keras_tuner import Hp

        hps = Hp()
        for p in self.parameters:
            if p.type == "choice":
                raise ValueError(
                    f"hyperparameter '{p.name}' is a choice, which aisaratuners' Hp.numrange cannot express"
                )
            low, high = (int(p.min), int(p.max)) if p.type == "int" else (p.min, p.max)
            hps.numrange(name=p.name, min=low, max=high, type=p.type)
        return hps

    @classmethod
    def from_aisara(cls, hps: Any) -> SearchSpace:
        """Build a space from an `aisaratuners` `Hp` filled with `numrange` calls.

        `Hp` keeps log ranges as log10 exponents; they are converted back.
        """
        parameters = []
        for name, (low, high) in hps.hps_dict_num.items():
            if name in hps.num_int:
                parameters.append(HyperParameter(name, "int", int(low), int(high)))
            elif name in hps.num_log:
                parameters.append(HyperParameter(name, "log", _round_power(low), _round_power(high)))
            else:
                parameters.append(HyperParameter(name, "float", float(low), float(high)))
        return cls(tuple(parameters))


def _round_power(exponent: float) -> float:
    # 10 ** log10(1e-4) is 1.0000000000000005e-04; rounding to 12 significant
    # digits restores the number the user wrote.
    return float(f"{10 ** exponent:.12g}")
