"""Tests of core/report.py: collecting events, the CSV tables and summary.md.

The golden files in tests/golden/report/ pin the reports of a hand-made
journal (see `sample_events`). After an intended change to the reports,
regenerate them and review the diff:

    TUNESCOPE_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_report.py
"""

from __future__ import annotations

import dataclasses
import io
import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tunescope.core.events import (
    CANCELLED,
    COMPLETED,
    FAILED,
    FINISHED,
    STOPPED,
    EpochEnded,
    RoundFinished,
    StudyFinished,
    StudyStarted,
    TrialFinished,
    TrialStarted,
    TunerFinished,
    TunerStarted,
)
from tunescope.core.report import (
    MARKDOWN_WIDTH,
    PENDING,
    collect,
    comparison_rows,
    format_duration,
    summary_frame,
    summary_markdown,
    trials_frame,
    write_reports,
)
from tunescope.core.store import Journal, RunDir

GOLDEN = Path(__file__).parent / "golden" / "report"
UPDATE_GOLDEN = os.environ.get("TUNESCOPE_UPDATE_GOLDEN") == "1"

T0 = 1_700_000_000.0
SPACE = [
    {"name": "num_layers", "type": "int", "min": 2, "max": 10},
    {"name": "nodes_dense", "type": "int", "min": 64, "max": 512},
    {"name": "learning_rate", "type": "log", "min": 0.0001, "max": 0.01},
]


def study_started(tuners: list[str]) -> StudyStarted:
    return StudyStarted(
        study="golden",
        run_dir="runs/20231114-221320-golden",
        tuners=tuners,
        objective="val_accuracy",
        direction="max",
        space=SPACE,
        seed=42,
        device="CPU",
        dataset="fashion_mnist",
        model="dnn",
        time=T0,
    )


def trial(
    tuner: str,
    trial_id: str,
    number: int,
    at: float,
    hps: tuple[int, int, float],
    val_accuracy: float | None,
    status: str = COMPLETED,
    reason: str = "",
    round_number: int | None = None,
    params: int | None = None,
) -> TrialFinished:
    """Build one TrialFinished; `at` is seconds after the study's start."""
    num_layers, nodes_dense, learning_rate = hps
    metrics = {}
    if val_accuracy is not None:
        metrics = {
            "loss": round(0.9 - val_accuracy * 0.8, 4),
            "accuracy": round(val_accuracy + 0.02, 4),
            "val_loss": round(1.0 - val_accuracy * 0.85, 4),
            "val_accuracy": val_accuracy,
        }
    return TrialFinished(
        tuner=tuner,
        trial_id=trial_id,
        number=number,
        status=status,
        hyperparameters={"num_layers": num_layers, "nodes_dense": nodes_dense, "learning_rate": learning_rate},
        metrics=metrics,
        objective=val_accuracy,
        epochs=2 if status == COMPLETED else 1,
        fit_seconds=round(at % 50 + 10.5, 1),
        trainable_params=params if params is not None else num_layers * nodes_dense * 100 + 1_234,
        reason=reason,
        round=round_number,
        rss_mb=812.5,
        time=T0 + at,
    )


def sample_events() -> list:
    """Build a realistic journal of three tuners under one budget.

    random finishes with one failed trial and one trial retried after a
    failure. aisara finishes two rounds, with round numbers on its trials.
    bayesian is cancelled during its third trial, which ends the study.
    """
    oom = "ResourceExhaustedError: OOM when allocating tensor with shape [512,512]\nTraceback (most recent call last): ..."
    events: list = [study_started(["random", "aisara", "bayesian"])]

    events += [
        TunerStarted(tuner="random", tuner_type="random", max_trials=4, epochs=2, time=T0 + 1),
        trial("random", "00", 1, 40, (3, 256, 0.001), 0.8642),
        trial("random", "01", 2, 80, (9, 512, 0.0063), None, status=FAILED, reason=oom),
        trial("random", "02", 3, 100, (2, 448, 0.00041), None, status=FAILED, reason="NaN loss at epoch 1"),
        trial("random", "02", 3, 150, (2, 448, 0.00041), 0.8791, params=143_905),
        trial("random", "03", 4, 200, (6, 128, 0.0021), 0.8513),
        TunerFinished(
            tuner="random",
            status=FINISHED,
            search_seconds=220.4,
            trials_completed=3,
            trials_failed=1,
            best_trial_id="02",
            best_hyperparameters={"num_layers": 2, "nodes_dense": 448, "learning_rate": 0.00041},
            best_objective=0.8791,
            test_accuracy=0.8744,
            test_loss=0.3521,
            trainable_params=143_905,
            time=T0 + 221.4,
        ),
    ]

    aisara = [
        ("1_1", 1, (3, 467, 0.001), 0.8256),
        ("1_2", 1, (6, 198, 0.000158), 0.8249),
        ("1_3", 1, (9, 109, 0.002512), 0.1),
        ("2_1", 2, (2, 481, 0.000398), 0.8692),
        ("2_2", 2, (5, 430, 0.000338), 0.8746),
        ("2_3", 2, (4, 275, 0.000468), 0.8717),
    ]
    events.append(TunerStarted(tuner="aisara", tuner_type="aisara", max_trials=6, epochs=2, time=T0 + 230, settings={"trials_per_round": 3, "rounds": 2}))
    for index, (trial_id, round_number, hps, accuracy) in enumerate(aisara):
        params = 110_515 if trial_id == "2_2" else None
        events.append(trial("aisara", trial_id, index + 1, 240 + 20 * index, hps, accuracy, round_number=round_number, params=params))
        if trial_id == "1_3":
            events.append(
                RoundFinished(
                    tuner="aisara",
                    round=1,
                    bounds={"num_layers": [2, 10], "nodes_dense": [64, 512], "learning_rate": [0.0001, 0.01]},
                    next_bounds={"num_layers": [2, 6], "nodes_dense": [109, 512], "learning_rate": [0.000158, 0.001]},
                    impacts={"num_layers": 0.41, "nodes_dense": 0.22, "learning_rate": 0.37},
                    predicted_best={"num_layers": 3, "nodes_dense": 467, "learning_rate": 0.0005},
                    best_trial_id="1_1",
                    time=T0 + 281,
                )
            )
    events += [
        RoundFinished(
            tuner="aisara",
            round=2,
            bounds={"num_layers": [2, 6], "nodes_dense": [109, 512], "learning_rate": [0.000158, 0.001]},
            next_bounds={"num_layers": [3, 5], "nodes_dense": [275, 481], "learning_rate": [0.000338, 0.000468]},
            impacts={"num_layers": 0.18, "nodes_dense": 0.47, "learning_rate": 0.35},
            predicted_best={"num_layers": 5, "nodes_dense": 430, "learning_rate": 0.000338},
            best_trial_id="2_2",
            time=T0 + 341,
        ),
        TunerFinished(
            tuner="aisara",
            status=FINISHED,
            search_seconds=138.0,
            trials_completed=6,
            best_trial_id="2_2",
            best_hyperparameters={"num_layers": 5, "nodes_dense": 430, "learning_rate": 0.000338},
            best_objective=0.8746,
            test_accuracy=0.8702,
            test_loss=0.3688,
            trainable_params=110_515,
            time=T0 + 368,
        ),
    ]

    events += [
        TunerStarted(tuner="bayesian", tuner_type="bayesian", max_trials=5, epochs=2, time=T0 + 370),
        trial("bayesian", "00", 1, 400, (4, 320, 0.0008), 0.8655),
        trial("bayesian", "01", 2, 430, (2, 500, 0.0004), 0.8712),
        trial("bayesian", "02", 3, 445, (3, 490, 0.0005), None, status=CANCELLED, reason="cancelled by the user"),
        TunerFinished(tuner="bayesian", status=STOPPED, search_seconds=75.2, trials_completed=2, best_trial_id="01", reason="cancelled by the user", time=T0 + 446),
        StudyFinished(status=STOPPED, seconds=446.9, reason="cancelled by the user", time=T0 + 447),
    ]
    return events


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE_GOLDEN:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"{path} is missing; run with TUNESCOPE_UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8")


@pytest.fixture()
def report():
    return collect(sample_events())


# -- golden files ----------------------------------------------------------------


def test_trials_csv_matches_golden(report):
    check_golden("trials.csv", trials_frame(report).to_csv(index=False, lineterminator="\n"))


def test_summary_csv_matches_golden(report):
    check_golden("summary.csv", summary_frame(report).to_csv(index=False, lineterminator="\n"))


def test_summary_markdown_matches_golden(report):
    check_golden("summary.md", summary_markdown(report))


# -- collect -----------------------------------------------------------------------


def test_collect_groups_events(report):
    assert report.study is not None
    assert [started.tuner for started in report.tuners] == ["random", "aisara", "bayesian"]
    assert sorted(report.results) == ["aisara", "bayesian", "random"]
    assert len(report.rounds) == 2
    assert report.finished is not None
    assert report.finished.status == STOPPED


def test_collect_keeps_last_attempt_of_retried_trial(report):
    attempts = [t for t in report.trials if t.tuner == "random" and t.trial_id == "02"]
    assert len(attempts) == 1
    assert attempts[0].status == COMPLETED
    assert attempts[0].objective == 0.8791


def test_collect_orders_retried_trial_by_last_attempt():
    events = sample_events()
    retry = events.pop(5)
    assert (retry.trial_id, retry.status) == ("02", COMPLETED)
    events.insert(6, retry)  # the retry now finishes after trial 03

    report = collect(events)

    ids = [t.trial_id for t in report.trials if t.tuner == "random"]
    assert ids == ["00", "01", "03", "02"]


def test_collect_skips_epoch_and_start_events():
    events = [
        study_started(["random"]),
        TrialStarted(tuner="random", trial_id="00", number=1, hyperparameters={}, time=T0 + 1),
        EpochEnded(tuner="random", trial_id="00", epoch=1, epochs=2, metrics={"val_accuracy": 0.5}, time=T0 + 2),
    ]

    report = collect(events)

    assert report.trials == []
    assert report.last_event_time == T0 + 2


# -- trials.csv ---------------------------------------------------------------------


def test_trials_frame_columns_follow_space_order(report):
    frame = trials_frame(report)

    assert list(frame.columns) == [
        "tuner", "trial_id", "number", "round", "status",
        "num_layers", "nodes_dense", "learning_rate",
        "epochs", "objective", "loss", "accuracy", "val_loss", "val_accuracy",
        "fit_seconds", "trainable_params", "rss_mb", "reason",
    ]  # fmt: skip


def test_trials_frame_counts_retried_trial_once(report):
    frame = trials_frame(report)

    assert len(frame) == 4 + 6 + 3
    assert len(frame[(frame.tuner == "random") & (frame.trial_id == "02")]) == 1


def test_trials_frame_keeps_round_numbers(report):
    frame = trials_frame(report)
    aisara = frame[frame.tuner == "aisara"]

    assert aisara["round"].tolist() == [1, 1, 1, 2, 2, 2]
    assert frame[frame.tuner == "random"]["round"].isna().all()


def test_trials_frame_renames_clashing_hyperparameter():
    events = [
        study_started(["random"]),
        TrialFinished(tuner="random", trial_id="00", number=1, status=COMPLETED, hyperparameters={"epochs": 7}, objective=0.5, epochs=7, time=T0 + 1),
    ]

    frame = trials_frame(collect(events))

    assert frame.loc[0, "hp_epochs"] == 7
    assert frame.loc[0, "epochs"] == 7


def test_trials_csv_keeps_journal_numbers(report):
    frame = pd.read_csv(io.StringIO(trials_frame(report).to_csv(index=False)), dtype={"trial_id": str})

    for event in report.trials:
        row = frame[(frame.tuner == event.tuner) & (frame.trial_id == event.trial_id)].iloc[0]
        if event.objective is None:
            assert math.isnan(row["objective"])
        else:
            assert row["objective"] == event.objective
        assert row["learning_rate"] == event.hyperparameters["learning_rate"]
        assert row["trainable_params"] == event.trainable_params


# -- summary.csv ---------------------------------------------------------------------


def test_summary_frame_best_equals_best_trial(report):
    trials = trials_frame(report)
    summary = summary_frame(report).set_index("tuner")

    for tuner in ("random", "aisara", "bayesian"):
        completed = trials[(trials.tuner == tuner) & (trials.status == COMPLETED)]
        assert summary.loc[tuner, "best_val_accuracy"] == completed["objective"].max()


def test_summary_frame_best_trial_matches_row(report):
    trials = trials_frame(report)
    summary = summary_frame(report).set_index("tuner")

    for tuner in ("random", "aisara", "bayesian"):
        best_id = summary.loc[tuner, "best_trial_id"]
        row = trials[(trials.tuner == tuner) & (trials.trial_id == best_id)].iloc[0]
        assert summary.loc[tuner, "trainable_params"] == row["trainable_params"]
        assert summary.loc[tuner, "hp_nodes_dense"] == row["nodes_dense"]


def test_summary_frame_counts_trials(report):
    summary = summary_frame(report).set_index("tuner")

    assert summary.loc["random", "trials_completed"] == 3
    assert summary.loc["random", "trials_failed"] == 1
    assert summary.loc["bayesian", "trials_completed"] == 2
    assert summary.loc["bayesian", "trials_failed"] == 0


def test_summary_frame_status_of_cancelled_tuner(report):
    summary = summary_frame(report).set_index("tuner")

    assert summary.loc["bayesian", "status"] == STOPPED
    assert pd.isna(summary.loc["bayesian", "test_accuracy"])


# -- comparison and Markdown ---------------------------------------------------------


def killed_run_events() -> list:
    """A run killed during its third tuner, before the fourth started.

    grid ends after every trial failed; aisara has no TunerFinished, and the
    study no StudyFinished.
    """
    events = [study_started(["random", "grid", "aisara", "hyperband"])]
    events += [
        TunerStarted(tuner="random", tuner_type="random", max_trials=2, epochs=1, time=T0 + 1),
        trial("random", "00", 1, 20, (3, 256, 0.001), 0.81),
        trial("random", "01", 2, 30, (4, 128, 0.002), 0.83),
        TunerFinished(tuner="random", status=FINISHED, search_seconds=30.0, trials_completed=2, best_trial_id="01", test_accuracy=0.8, time=T0 + 31),
        TunerStarted(tuner="grid", tuner_type="grid", max_trials=3, epochs=1, time=T0 + 40),
        trial("grid", "00", 1, 50, (10, 512, 0.01), None, status=FAILED, reason="ResourceExhaustedError: OOM"),
        trial("grid", "01", 2, 70, (10, 512, 0.001), None, status=FAILED, reason="ValueError: NaN loss\nmore"),
        TunerFinished(tuner="grid", status=FAILED, search_seconds=31.0, trials_failed=2, reason="2 trials failed in a row", time=T0 + 71),
        TunerStarted(tuner="aisara", tuner_type="aisara", max_trials=6, epochs=1, time=T0 + 80),
        trial("aisara", "1_1", 1, 95, (3, 467, 0.001), 0.8256, round_number=1),
        trial("aisara", "1_2", 2, 109, (6, 198, 0.000158), 0.8249, round_number=1),
        TrialStarted(tuner="aisara", trial_id="1_3", number=3, hyperparameters={}, round=1, time=T0 + 110),
    ]
    return events


def comparison_cell(report, measure: str, tuner: str) -> str:
    return dict(comparison_rows(report))[measure][tuner]


def test_comparison_rows_cells(report):
    assert comparison_cell(report, "best val_accuracy", "random") == "87.91%"
    assert comparison_cell(report, "test accuracy", "aisara") == "87.02%"
    assert comparison_cell(report, "search time", "random") == "3m 40s"
    assert comparison_cell(report, "trainable params", "random") == "143,905"
    assert comparison_cell(report, "trials ok / failed", "random") == "3 / 1"


def test_comparison_rows_explainability(report):
    assert comparison_cell(report, "explainability", "aisara") == "4 pictures"
    # Three completed trials are too few for importance, so its bars are not drawn.
    assert comparison_cell(report, "explainability", "random") == "2 pictures"


def test_comparison_rows_explainability_counts_drawn():
    report = collect(killed_run_events())

    # Every grid trial failed, so its section draws nothing.
    assert comparison_cell(report, "explainability", "grid") == "0 pictures"
    # aisara's trials name a round, but no round finished, so no bounds are drawn.
    assert comparison_cell(report, "explainability", "aisara") == "2 pictures"
    assert comparison_cell(report, "explainability", "hyperband") == "n/a"


def test_comparison_rows_pending_explanations(report):
    cells = dict(comparison_rows(report, {}))["explainability"]

    assert cells["random"] == PENDING
    assert cells["aisara"] == PENDING


def test_comparison_rows_mark_cancelled_tuner(report):
    assert comparison_cell(report, "status", "bayesian") == "stopped"
    assert comparison_cell(report, "best val_accuracy", "bayesian") == "87.12%"
    assert comparison_cell(report, "trials ok / failed", "bayesian") == "2 / 0"


def test_comparison_rows_incomplete_tuner():
    report = collect(killed_run_events())

    assert comparison_cell(report, "status", "aisara") == "incomplete"
    assert comparison_cell(report, "best val_accuracy", "aisara") == "82.56%"
    assert comparison_cell(report, "search time", "aisara") == "29.0s"


def test_comparison_rows_all_trials_failed():
    report = collect(killed_run_events())

    assert comparison_cell(report, "status", "grid") == "failed"
    assert comparison_cell(report, "best val_accuracy", "grid") == "no completed trial"
    assert comparison_cell(report, "trials ok / failed", "grid") == "0 / 2"


def test_comparison_rows_tuner_not_started():
    report = collect(killed_run_events())

    assert comparison_cell(report, "status", "hyperband") == "not started"
    assert comparison_cell(report, "best val_accuracy", "hyperband") == "n/a"


def test_comparison_rows_loss_objective():
    start = study_started(["random"])
    start.objective = "val_loss"
    start.direction = "min"
    events = [
        start,
        TunerStarted(tuner="random", tuner_type="random", max_trials=2, epochs=1, time=T0 + 1),
        TrialFinished(tuner="random", trial_id="00", number=1, status=COMPLETED, hyperparameters={}, objective=0.41, time=T0 + 2),
        TrialFinished(tuner="random", trial_id="01", number=2, status=COMPLETED, hyperparameters={}, objective=0.3512, time=T0 + 3),
    ]

    report = collect(events)

    assert comparison_cell(report, "best val_loss", "random") == "0.3512"


def test_markdown_shows_last_failure_reason():
    text = summary_markdown(collect(killed_run_events()))

    assert "grid: no completed trial. The last failure, in trial 2 (id 01): ValueError: NaN loss" in text
    assert "more" not in text


def test_markdown_marks_killed_run():
    text = summary_markdown(collect(killed_run_events()))

    assert "- run status: incomplete (the journal has no study_finished event)" in text
    assert "- total time: 1m 50s until the last event in the journal" in text
    assert "- aisara: incomplete, the journal ends before this tuner finished. Its figures come from" in text


def test_markdown_gives_end_reason():
    text = summary_markdown(collect(killed_run_events()))

    assert "- grid: incomplete, the tuner failed (2 trials failed in a row).\n" in text


def test_markdown_lines_fit_width(report):
    for line in summary_markdown(report).splitlines():
        assert len(line) <= MARKDOWN_WIDTH, line


def renamed_tuners(names: list[str]) -> list:
    """Repeat the finished random tuner of `sample_events` under each of `names`."""
    random_events = [event for event in sample_events() if getattr(event, "tuner", None) == "random"]
    events: list = [study_started(names)]
    for name in names:
        events += [dataclasses.replace(event, tuner=name) for event in random_events]
    return events


def comparison_section(text: str) -> list[str]:
    start = text.index("## Comparison")
    return text[start : text.index("## Best hyperparameters")].splitlines()


def test_markdown_four_tuners_one_table():
    text = summary_markdown(collect(renamed_tuners(["random", "bayesian", "hyperband", "aisara_cloud"])))
    lines = comparison_section(text)
    headers = [line for line in lines if line.startswith("| measure")]

    assert len(headers) == 1
    assert max(len(line) for line in lines) <= MARKDOWN_WIDTH


def test_markdown_eight_tuners_split_tables():
    names = [f"tuner_number_{index}" for index in range(8)]
    text = summary_markdown(collect(renamed_tuners(names)))
    lines = comparison_section(text)
    headers = [line for line in lines if line.startswith("| measure")]

    assert len(headers) > 1
    assert max(len(line) for line in lines) <= MARKDOWN_WIDTH
    for name in names:
        assert sum(name in header for header in headers) == 1, name


def test_markdown_legend_names_pictures(report):
    text = summary_markdown(report)

    assert "hyperparameter importance, a heat map of the objective" in text
    assert "bounds per round" in text


def test_markdown_notes_cancelled_trials(report):
    text = " ".join(summary_markdown(report).split())

    assert "bayesian: incomplete, the tuner stopped" in text
    assert "1 trial was cancelled." in text


def test_markdown_without_events():
    text = summary_markdown(collect([]))

    assert text.startswith("# tunescope study\n")
    assert "No tuner started." in text


def test_summary_frame_without_events():
    frame = summary_frame(collect([]))

    assert frame.empty
    assert "best_objective" in frame.columns


# -- format_duration -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "0.0s"),
        (8.24, "8.2s"),
        (59.94, "59.9s"),
        (59.96, "1m 00s"),
        (220.4, "3m 40s"),
        (3599.6, "1h 00m"),
        (3720.0, "1h 02m"),
        (90_000.0, "25h 00m"),
        (-3.0, "0.0s"),
        (float("nan"), "n/a"),
    ],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


# -- write_reports -------------------------------------------------------------------


def test_write_reports_from_journal_file(tmp_path):
    journal = Journal(tmp_path / "journal.jsonl")
    for event in sample_events():
        journal(event)
    journal.close()
    run_dir = RunDir(tmp_path)

    written = write_reports(run_dir)

    assert [path.name for path in written] == ["trials.csv", "summary.csv", "summary.md"]
    assert (tmp_path / "summary.md").read_text(encoding="utf-8") == (GOLDEN / "summary.md").read_text(encoding="utf-8")
    assert (tmp_path / "trials.csv").read_text(encoding="utf-8") == (GOLDEN / "trials.csv").read_text(encoding="utf-8")
    assert (tmp_path / "summary.csv").read_text(encoding="utf-8") == (GOLDEN / "summary.csv").read_text(encoding="utf-8")


def test_write_reports_leaves_no_temporary_files(tmp_path):
    run_dir = RunDir(tmp_path)

    write_reports(run_dir, sample_events())

    assert sorted(path.name for path in tmp_path.iterdir()) == ["summary.csv", "summary.md", "trials.csv"]


def test_write_reports_of_torn_journal(tmp_path):
    journal = Journal(tmp_path / "journal.jsonl")
    for event in killed_run_events():
        journal(event)
    journal.close()
    with open(tmp_path / "journal.jsonl", "a", encoding="utf-8") as handle:
        handle.write('{"event": "trial_finished", "tuner": "gr')
    run_dir = RunDir(tmp_path)

    write_reports(run_dir)

    trials = pd.read_csv(tmp_path / "trials.csv")
    assert len(trials) == 6


PLANNED_CONFIG = """\
[dataset]
name = "digits"

[model]
family = "dnn"

[[space]]
name = "num_layers"
type = "int"
min = 2
max = 10

[[tuners]]
type = "random"

[[tuners]]
name = "hb"
type = "hyperband"
"""


def cancelled_before_second_tuner() -> list:
    return [
        study_started(["random", "hb"]),
        TunerStarted(tuner="random", tuner_type="random", max_trials=2, epochs=1, time=T0 + 1),
        trial("random", "00", 1, 20, (3, 256, 0.001), 0.81),
        TunerFinished(tuner="random", status=STOPPED, search_seconds=20.0, trials_completed=1, time=T0 + 21),
        StudyFinished(status=CANCELLED, seconds=22.0, time=T0 + 22),
    ]


def test_write_reports_types_tuner_not_started(tmp_path):
    (tmp_path / "config.toml").write_text(PLANNED_CONFIG, encoding="utf-8")
    run_dir = RunDir(tmp_path)

    write_reports(run_dir, cancelled_before_second_tuner())

    summary = pd.read_csv(tmp_path / "summary.csv", keep_default_na=False).set_index("tuner")
    assert summary.loc["hb", "status"] == "not started"
    assert summary.loc["hb", "type"] == "hyperband"
    assert summary.loc["random", "type"] == "random"


def test_write_reports_without_config_leaves_type_empty(tmp_path):
    run_dir = RunDir(tmp_path)

    write_reports(run_dir, cancelled_before_second_tuner())

    summary = pd.read_csv(tmp_path / "summary.csv", keep_default_na=False).set_index("tuner")
    assert summary.loc["hb", "type"] == ""


# -- boundaries ----------------------------------------------------------------------


def test_report_module_imports_no_ui_or_tensorflow():
    code = (
        "import sys, tunescope.core.report; "
        "print(' '.join(m for m in ('rich', 'textual', 'tensorflow', 'keras') if m in sys.modules))"
    )

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)

    assert result.stdout.strip() == ""
