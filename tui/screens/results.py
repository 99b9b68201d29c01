"""The results screen: the tuners compared, and what each one's search shows."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane, Tabs
from textual.worker import Worker, WorkerState

from tunescope.core.config import Objective
from tunescope.core.errors import TunescopeError
from tunescope.core.events import Event, TrialFinished
from tunescope.core.explain import TunerExplanation
from tunescope.core.explain.ascii import format_value, render_best_so_far, render_bound_history, render_importance
from tunescope.core.explain.markdown import EXPLAINABILITY_KEY
from tunescope.core.report import (
    StudyReport,
    collect,
    comparison_rows,
    explain_report,
    format_metric,
    tuner_summaries,
    write_reports,
)
from tunescope.core.space import SearchSpace
from tunescope.core.store import RunDir

from ..settings import AppSettings
from ..widgets.comparison_table import ComparisonTable
from ..widgets.heat_map import HeatMap

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TunerPictures:
    """The text pictures of one tuner, each empty when summary.md does not draw it either.

    `importance` is the bars, or one line with the reason importance is
    unknown, `curve` the best-so-far curve, and `bounds` the bound history of
    a tuner that searched in rounds (AiSara). `pair` is the heat map's pair,
    the one summary.md draws.
    """

    importance: str
    curve: str
    bounds: str
    pair: tuple[str, str | None] | None


def draw_pictures(explanation: TunerExplanation, ascii_only: bool) -> TunerPictures:
    """Draw an explanation's pictures as text, as the Markdown report does."""
    importance = explanation.importance
    if importance is not None:
        importance_text = render_importance(importance, ascii_only=ascii_only)
    else:
        importance_text = "no completed trial, so importance is unknown"
    curve = render_best_so_far([explanation.curve], ascii_only=ascii_only) if explanation.curve is not None else ""
    bounds = render_bound_history(explanation.bounds, ascii_only=ascii_only) if explanation.bounds is not None else ""
    return TunerPictures(importance_text, curve, bounds, explanation.heat_map_pair)


COMPARE_TAB = "compare"


class ResultsScreen(Screen[None]):
    """A tab with the comparison table, then a tab per tuner: best hyperparameters and the pictures.

    A tuner's tab shows the pictures of summary.md's Explainability section:
    heat map, importance, best-so-far curve and, for AiSara, its bounds per
    round. The comparison counts the same pictures.

    One tab at a time keeps a tuner's pictures readable at 80x24. A tuner's tab
    scrolls, and the line below it shows which rows are in view.
    """

    CSS_PATH = "results.tcss"
    BINDINGS = [
        Binding("e", "export", "Export"),
        Binding("b", "previous_tab", "Prev tab"),
        Binding("n", "next_tab", "Next tab"),
        Binding("p", "next_pair", "Map pair"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, settings: AppSettings, run_dir: RunDir, events: list[Event]) -> None:
        super().__init__()
        self.settings = settings
        self.run_dir = run_dir
        self.events = events
        self.report: StudyReport = collect(events)
        self.space = SearchSpace.from_dicts(self.report.study.space) if self.report.study else SearchSpace()
        self.objective = Objective(self.report.objective, self.report.direction)
        self.tuner_names = self.report.tuner_names()

    def compose(self) -> ComposeResult:
        yield Header()
        summaries = {summary.name: summary for summary in tuner_summaries(self.report)}
        with TabbedContent(id="tabs", initial=COMPARE_TAB):
            with TabPane("compare", id=COMPARE_TAB):
                # The explainability counts follow once the pictures are computed.
                yield ComparisonTable(comparison_rows(self.report, {}), id="comparison")
                yield Static(EXPLAINABILITY_KEY, id="legend", markup=False)
                yield Static(
                    "e writes trials.csv, summary.csv and summary.md into the run directory",
                    id="exported",
                    markup=False,
                )
            for index, name in enumerate(self.tuner_names):
                with TabPane(name, id=f"tuner-{index}"):
                    with VerticalScroll(id=f"pane-{index}", classes="tuner-pane"):
                        summary = summaries.get(name)
                        yield Static(self._best_text(summary.best if summary else None), classes="best", markup=False)
                        yield HeatMap(self.settings.ascii_only, id=f"map-{index}")
                        yield Static("computing importance...", id=f"importance-{index}", markup=False, classes="importance")
                        yield Static("", id=f"curve-{index}", markup=False, classes="curve")
                        yield Static("", id=f"bounds-{index}", markup=False, classes="bounds")
                    yield Static("", id=f"rows-{index}", markup=False, classes="rows")
        yield Footer()

    def on_mount(self) -> None:
        study = self.report.study.study if self.report.study else self.run_dir.path.name
        self.title = f"tunescope: results of {study}"
        self.sub_title = self.run_dir.path.name
        if self.settings.ascii_only:
            self.add_class("-ascii")
        for index, name in enumerate(self.tuner_names):
            self.query_one(f"#map-{index}", HeatMap).configure(self.space, self.objective, self._trials_of(name), tuner=name)
            pane = self.query_one(f"#pane-{index}", VerticalScroll)
            self.watch(pane, "scroll_y", partial(self._scrolled, index), init=False)
        self.compute_pictures()

    def on_resize(self) -> None:
        self.call_after_refresh(self._show_all_rows)

    def _show_all_rows(self) -> None:
        for index in range(len(self.tuner_names)):
            self._show_rows(index)

    def _scrolled(self, index: int, scroll_y: float) -> None:
        self._show_rows(index)

    def _show_rows(self, index: int) -> None:
        """Show which rows of a tuner's tab are in view and the keys that scroll it, or nothing when all rows fit."""
        pane = self.query_one(f"#pane-{index}", VerticalScroll)
        total = pane.virtual_size.height
        visible = pane.scrollable_content_region.height
        label = self.query_one(f"#rows-{index}", Static)
        if visible <= 0 or total <= visible:
            label.update("")
            return
        first = round(pane.scroll_y) + 1
        last = min(first + visible - 1, total)
        label.update(f"rows {first}-{last} of {total}: up/down or PgUp/PgDn scrolls")

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        # Focus the tuner's pane, so that the arrow and page keys scroll it.
        pane_id = event.pane.id or ""
        if pane_id.startswith("tuner-"):
            index = pane_id.removeprefix("tuner-")
            self.query_one(f"#pane-{index}", VerticalScroll).focus()
            self.call_after_refresh(self._show_rows, int(index))
        self.refresh_bindings()

    def _trials_of(self, tuner: str) -> list[TrialFinished]:
        return [trial for trial in self.report.trials if trial.tuner == tuner]

    def _best_text(self, best: TrialFinished | None) -> Text:
        if best is None:
            return Text("no completed trial", style="dim")
        text = Text()
        text.append(f"best trial #{best.number} ({best.trial_id}): ", style="bold")
        text.append(f"{self.objective.metric} {format_metric(self.objective.metric, best.objective)}")
        for name, value in best.hyperparameters.items():
            text.append(f"\n  {name} = {format_value(value)}")
        if best.trainable_params is not None:
            text.append(f"\n  {best.trainable_params:,} trainable parameters", style="dim")
        return text

    # -- pictures, computed off the event loop ---------------------------------

    def compute_pictures(self) -> None:
        self.run_worker(self._pictures, thread=True, exclusive=True, group="explain", exit_on_error=False)

    def _pictures(self) -> tuple[dict[str, TunerExplanation], dict[str, TunerPictures]]:
        """Compute each tuner's explanation and draw it, off the event loop because scikit-learn takes seconds to import."""
        explanations = explain_report(self.report)
        pictures = {name: draw_pictures(explanation, self.settings.ascii_only) for name, explanation in explanations.items()}
        return explanations, pictures

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "explain":
            return
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            logger.error("importance could not be computed: %s", error, exc_info=error)
            for index in range(len(self.tuner_names)):
                self.query_one(f"#importance-{index}", Static).update(f"importance could not be computed: {error}")
        if event.state != WorkerState.SUCCESS:
            return
        explanations, pictures = event.worker.result
        self.query_one(ComparisonTable).update_rows(comparison_rows(self.report, explanations))
        empty = TunerPictures("not started, so there is nothing to explain", "", "", None)
        for index, name in enumerate(self.tuner_names):
            picture = pictures.get(name, empty)
            self.query_one(f"#importance-{index}", Static).update(picture.importance)
            for kind, text in (("curve", picture.curve), ("bounds", picture.bounds)):
                static = self.query_one(f"#{kind}-{index}", Static)
                static.update(text)
                static.display = bool(text)
            if picture.pair is not None:
                self.query_one(f"#map-{index}", HeatMap).show_pair(*picture.pair)
        self.call_after_refresh(self._show_all_rows)

    # -- actions ---------------------------------------------------------------

    def action_export(self) -> None:
        try:
            written = write_reports(self.run_dir, self.events)
        except (TunescopeError, OSError) as error:
            self.notify(f"the reports could not be written: {error}", title="Export failed", severity="error")
            return
        # Folder and file names on two lines, so all of them fit the short
        # panel at the foot of an 80x24 screen.
        names = ", ".join(path.name for path in written)
        self.query_one("#exported", Static).update(f"written into {self.run_dir.path}:\n{names}")
        # The written paths are on the comparison tab.
        self.query_one(TabbedContent).active = COMPARE_TAB
        self.notify(f"wrote {len(written)} files into {self.run_dir.path}", title="Exported")

    def action_next_pair(self) -> None:
        active = self.query_one(TabbedContent).active
        if active.startswith("tuner-"):
            index = active.removeprefix("tuner-")
            self.query_one(f"#map-{index}", HeatMap).next_pair()
            self.call_after_refresh(self._show_rows, int(index))

    def action_next_tab(self) -> None:
        self.query_one(TabbedContent).query_one(Tabs).action_next_tab()

    def action_previous_tab(self) -> None:
        self.query_one(TabbedContent).query_one(Tabs).action_previous_tab()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":
            # The default screen is always at the bottom; attach mode shows
            # results right above it, with nothing to go back to.
            return len(self.app.screen_stack) > 2
        if action == "next_pair":
            # Shown dimmed on the comparison tab, which has no heat map.
            return True if self.query_one(TabbedContent).active.startswith("tuner-") else None
        return True

    def action_back(self) -> None:
        self.dismiss()
