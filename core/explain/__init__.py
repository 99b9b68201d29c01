"""Explainability of a search, as plain data and plain-text pictures.

Each picture is computed by a pure function into a frozen dataclass
(importance, objective grid, best-so-far series, bound history), and rendered
separately: `ascii` draws them as text, `markdown` writes a tuner's report
section, and the app and headless view draw the same objects their own way.
Nothing here imports TensorFlow; scikit-learn is imported only when a model
is fitted.
"""

from .ascii import (
    format_number,
    format_value,
    render_best_so_far,
    render_bound_history,
    render_grid,
    render_importance,
)
from .bounds import BoundHistory, bound_history
from .grid import ObjectiveGrid, objective_grid, smoothed_grid
from .importance import Importance, compute_importance
from .markdown import (
    EXPLAINABILITY_LEGEND,
    TunerExplanation,
    explain_tuner,
    explainability_summary,
    explanation_markdown,
    heat_map_axes,
    tuner_explanation_markdown,
)
from .progress import BestSoFar, best_so_far

__all__ = [
    "EXPLAINABILITY_LEGEND",
    "BestSoFar",
    "BoundHistory",
    "Importance",
    "ObjectiveGrid",
    "TunerExplanation",
    "best_so_far",
    "bound_history",
    "compute_importance",
    "explain_tuner",
    "explainability_summary",
    "explanation_markdown",
    "format_number",
    "format_value",
    "heat_map_axes",
    "objective_grid",
    "render_best_so_far",
    "render_bound_history",
    "render_grid",
    "render_importance",
    "smoothed_grid",
    "tuner_explanation_markdown",
]
