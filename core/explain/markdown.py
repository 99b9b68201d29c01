"""The per-tuner explainability section of a Markdown report."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from dataclasses import dataclass

from ..config import Objective
from ..events import RoundFinished, TrialFinished
from ..space import SearchSpace
from ._trials import usable_trials, varies
from .ascii import MAX_COLUMNS, render_best_so_far, render_bound_history, render_grid, render_importance
from .bounds import BoundHistory, bound_history
from .grid import ObjectiveGrid, objective_grid
from .importance import Importance, compute_importance
from .progress import BestSoFar, best_so_far

AISARA_TYPES = ("aisara", "aisara-cloud")

# Names of the pictures that `TunerExplanation.pictures` lists, in the order
# the section draws them.
IMPORTANCE = "importance"
HEAT_MAP = "heat map"
BEST_SO_FAR = "best-so-far curve"
BOUNDS = "bounds per round"


@dataclass(frozen=True)
class TunerExplanation:
    """The explainability section of one tuner, as plain data.

    `importance`, `grid` and `curve` are None without a completed trial with
    a finite objective, `grid` also when no hyperparameter varies, and
    `bounds` is None when the tuner reported no rounds. The Markdown report
    and the app draw these objects, so both show and count the same pictures.
    """

    tuner: str
    n_trials: int
    n_usable: int
    importance: Importance | None
    grid: ObjectiveGrid | None
    curve: BestSoFar | None
    bounds: BoundHistory | None

    @property
    def pictures(self) -> tuple[str, ...]:
        """Name the pictures drawn. Importance counts only when it was computed, not its one-line reason."""
        drawn = []
        if self.importance is not None and self.importance.known:
            drawn.append(IMPORTANCE)
        if self.grid is not None:
            drawn.append(HEAT_MAP)
        if self.curve is not None:
            drawn.append(BEST_SO_FAR)
        if self.bounds is not None:
            drawn.append(BOUNDS)
        return tuple(drawn)

    @property
    def heat_map_pair(self) -> tuple[str, str | None] | None:
        """The (x, y) hyperparameters of the heat map, with y None for a one-row strip, or None without a map."""
        return (self.grid.x, self.grid.y) if self.grid is not None else None


def explain_tuner(
    tuner: str,
    trials: Iterable[TrialFinished],
    rounds: Iterable[RoundFinished],
    space: SearchSpace,
    objective: Objective,
) -> TunerExplanation:
    """Compute the pictures that explain one tuner's search.

    `trials` and `rounds` may contain other tuners' records, and only those
    of `tuner` are used. The heat map is over the two most important varying
    hyperparameters (a one-row strip when only one varies). Fitting the
    importance imports scikit-learn, which takes about a second the first time.
    """
    own_trials = [t for t in trials if t.tuner == tuner]
    own_rounds = [r for r in rounds if r.tuner == tuner]
    usable = usable_trials(own_trials)

    importance = grid = curve = None
    if usable:
        importance = compute_importance(own_trials, space, objective)
        axes = heat_map_axes(importance, space)
        if axes:
            grid = objective_grid(own_trials, space, axes[0], axes[1] if len(axes) > 1 else None, objective)
        curve = best_so_far(own_trials, objective)
    bounds = bound_history(own_rounds, space) if own_rounds else None
    return TunerExplanation(tuner, len(own_trials), len(usable), importance, grid, curve, bounds)


def tuner_explanation_markdown(
    tuner: str,
    trials: Iterable[TrialFinished],
    rounds: Iterable[RoundFinished],
    space: SearchSpace,
    objective: Objective,
    heading_level: int = 3,
    ascii_only: bool = True,
) -> str:
    """Write the Markdown section that explains one tuner's search.

    The section contains the pictures of `explain_tuner`: the importance bars
    (or the one line that says why importance is unknown), the heat map, the
    best-so-far curve and, when the tuner reported rounds, the bounds it
    searched per round. Pictures sit in code fences. Every line but the
    heading fits 80 columns.
    """
    explanation = explain_tuner(tuner, trials, rounds, space, objective)
    return explanation_markdown(explanation, objective, heading_level, ascii_only)


def explanation_markdown(
    explanation: TunerExplanation,
    objective: Objective,
    heading_level: int = 3,
    ascii_only: bool = True,
) -> str:
    """Write the Markdown section of an explanation computed by `explain_tuner`."""
    parts = [f"{'#' * heading_level} Explainability: {explanation.tuner}"]
    parts.append(
        _paragraph(
            f"{explanation.n_usable} of {explanation.n_trials} trials completed with a finite {objective.metric} "
            f"({objective.direction} is better)."
        )
    )

    importance = explanation.importance
    if importance is not None:
        parts.append(_figure("Hyperparameter importance:", render_importance(importance, ascii_only=ascii_only)))

    grid = explanation.grid
    if grid is not None and importance is not None:
        if not grid.y:
            caption = "Strip over the only hyperparameter that varies:"
        elif importance.known:
            caption = "Heat map over the two most important hyperparameters:"
        else:
            caption = "Heat map over the first two hyperparameters that vary (importance unknown):"
        parts.append(_figure(caption, render_grid(grid, ascii_only=ascii_only)))

    if explanation.curve is not None:
        curve = render_best_so_far([explanation.curve], ascii_only=ascii_only)
        parts.append(_figure("Best so far:", curve))
    if explanation.n_usable == 0:
        parts.append("No completed trials yet, so there is nothing to explain.")

    if explanation.bounds is not None:
        history = render_bound_history(explanation.bounds, ascii_only=ascii_only)
        parts.append(_figure("Bounds searched per round:", history))

    return "\n\n".join(parts) + "\n"


def explainability_summary(tuner_type: str, has_rounds: bool, pictures: int | None = None) -> str:
    """Return the comparison table's explainability cell: how many pictures this tuner's report has.

    `pictures` is the number drawn, `len(TunerExplanation.pictures)`. Without
    it the cell gives the most a report can draw: three pictures, and a
    fourth for a tuner that searched in rounds. An AiSara tuner without
    rounds is flagged, because AiSara searches in rounds. The cell is short
    so that a table of four tuners with names of up to 10 characters fits 80
    columns. `EXPLAINABILITY_LEGEND` and `EXPLAINABILITY_KEY` name the pictures.
    """
    if pictures is None:
        pictures = 4 if has_rounds else 3
    if tuner_type in AISARA_TYPES and not has_rounds:
        return f"{pictures}, no rounds"
    return f"{pictures} picture" if pictures == 1 else f"{pictures} pictures"


EXPLAINABILITY_LEGEND = (
    "Explainability counts the pictures that the Explainability section shows for each tuner: "
    "hyperparameter importance, a heat map of the objective and the best-so-far curve, "
    "and a fourth, the search-space bounds per round, for a tuner that searches in rounds (AiSara)."
)

# The legend in one line of at most 80 columns, for the app's comparison view.
EXPLAINABILITY_KEY = "pictures = importance, heat map, best-so-far curve (+ bounds per round)"


def heat_map_axes(importance: Importance, space: SearchSpace) -> list[str]:
    """Return up to two varying hyperparameters, most important first.

    Space order decides when importance is unknown (all scores 0).
    """
    candidates = [p.name for p in space if varies(p)]
    if importance.known:
        order = [name for name, _ in importance.ranked()]
        candidates.sort(key=order.index)
    return candidates[:2]


def _paragraph(text: str) -> str:
    return "\n".join(textwrap.wrap(text, MAX_COLUMNS))


def _figure(caption: str, picture: str) -> str:
    return f"{_paragraph(caption)}\n\n```text\n{picture}\n```"
