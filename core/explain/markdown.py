"""The per-tuner explainability section of a Markdown report."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

from ..config import Objective
from ..events import RoundFinished, TrialFinished
from ..space import SearchSpace
from ._trials import usable_trials, varies
from .ascii import MAX_COLUMNS, render_best_so_far, render_bound_history, render_grid, render_importance
from .bounds import bound_history
from .grid import objective_grid
from .importance import Importance, compute_importance
from .progress import best_so_far

AISARA_TYPES = ("aisara", "aisara-cloud")


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

    The section contains the importance bars and a heat map of the objective
    over the two most important varying hyperparameters (a one-row strip when
    only one varies). The best-so-far curve follows and, when the tuner
    reported rounds, the bounds it searched per round. `trials` and `rounds` may contain other
    tuners' records, and only those of `tuner` are used. Pictures sit in code
    fences. Every line but the heading fits 80 columns.
    """
    own_trials = [t for t in trials if t.tuner == tuner]
    own_rounds = [r for r in rounds if r.tuner == tuner]
    usable = usable_trials(own_trials)

    parts = [f"{'#' * heading_level} Explainability: {tuner}"]
    parts.append(
        _paragraph(
            f"{len(usable)} of {len(own_trials)} trials completed with a finite {objective.metric} "
            f"({objective.direction} is better)."
        )
    )

    if usable:
        importance = compute_importance(own_trials, space, objective)
        parts.append(_figure("Hyperparameter importance:", render_importance(importance, ascii_only=ascii_only)))

        axes = _heat_map_axes(importance, space)
        if axes:
            x, y = axes[0], (axes[1] if len(axes) > 1 else None)
            grid = objective_grid(own_trials, space, x, y, objective)
            if not y:
                caption = "Strip over the only hyperparameter that varies:"
            elif _is_known(importance):
                caption = "Heat map over the two most important hyperparameters:"
            else:
                caption = "Heat map over the first two hyperparameters that vary (importance unknown):"
            parts.append(_figure(caption, render_grid(grid, ascii_only=ascii_only)))

        curve = render_best_so_far([best_so_far(own_trials, objective)], ascii_only=ascii_only)
        parts.append(_figure("Best so far:", curve))
    else:
        parts.append("No completed trials yet, so there is nothing to explain.")

    if own_rounds:
        history = render_bound_history(bound_history(own_rounds, space), ascii_only=ascii_only)
        parts.append(_figure("Bounds searched per round:", history))

    return "\n\n".join(parts) + "\n"


def explainability_summary(tuner_type: str, has_rounds: bool) -> str:
    """Return the comparison table's explainability cell: how many pictures this tuner's report has.

    Every tuner gets three pictures, and a tuner that searched in rounds gets a
    fourth. The cell is short so that a table of four tuners with names of up
    to 10 characters fits 80 columns. `EXPLAINABILITY_LEGEND` and
    `EXPLAINABILITY_KEY` name the pictures.
    """
    if has_rounds:
        return "4 pictures"
    if tuner_type in AISARA_TYPES:
        # AiSara searches in rounds, so a missing bound history is worth flagging.
        return "3, no rounds"
    return "3 pictures"


EXPLAINABILITY_LEGEND = (
    "Explainability counts the pictures that the Explainability section shows for each tuner: "
    "hyperparameter importance, a heat map of the objective and the best-so-far curve, "
    "and a fourth, the search-space bounds per round, for a tuner that searches in rounds (AiSara)."
)

# The legend in one line of at most 80 columns, for the app's comparison view.
EXPLAINABILITY_KEY = "pictures = importance, heat map, best-so-far curve (+ bounds per round)"


def _heat_map_axes(importance: Importance, space: SearchSpace) -> list[str]:
    """Return up to two varying hyperparameters, most important first.

    Space order decides when importance is unknown (all scores 0).
    """
    candidates = [p.name for p in space if varies(p)]
    if _is_known(importance):
        order = [name for name, _ in importance.ranked()]
        candidates.sort(key=order.index)
    return candidates[:2]


def _is_known(importance: Importance) -> bool:
    return any(score > 0 for score in importance.scores.values())


def _paragraph(text: str) -> str:
    return "\n".join(textwrap.wrap(text, MAX_COLUMNS))


def _figure(caption: str, picture: str) -> str:
    return f"{_paragraph(caption)}\n\n```text\n{picture}\n```"
