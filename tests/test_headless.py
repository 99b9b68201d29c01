"""Tests of tui/headless.py: plain lines off a terminal, the Rich live display on one."""

from __future__ import annotations

import io
import logging
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from tiny_experiment import tiny_experiment

from tunescope.core.events import (
    CANCELLED,
    COMPLETED,
    FAILED,
    FINISHED,
    EpochEnded,
    EpochStarted,
    RoundFinished,
    StudyFinished,
    StudyStarted,
    TrialFinished,
    TrialStarted,
    TunerFinished,
    TunerStarted,
)
from tunescope.core.report import collect
from tunescope.tui.headless import HeadlessView, _styled_cell
from tunescope.tui.study_handle import HEADLESS_LOG_NAME

# 2023-11-14 22:13:20 UTC.
T0 = 1_700_000_000.0

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# SGR codes that set a foreground or background colour: 30-37, 38;..., 39, 40-49, 90-97, 100-107.
COLOR_CODE = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-9]|4[0-9]|9[0-7]|10[0-7])(?:;[0-9;]*)?m")


@pytest.fixture()
def utc(monkeypatch):
    """Run the test with local time set to UTC, so that timestamps are fixed."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture(autouse=True)
def plain_terminal(monkeypatch):
    """Remove the runner's colour settings, which Rich would otherwise obey."""
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "COLUMNS", "LINES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")


def short_study() -> list:
    hps = {"num_layers": 2, "nodes_dense": 128, "learning_rate": 0.00123}
    return [
        StudyStarted(
            study="quick",
            run_dir="runs/quick",
            tuners=["random", "aisara"],
            objective="val_accuracy",
            direction="max",
            space=[],
            seed=7,
            dataset="digits",
            model="dnn",
            time=T0,
        ),
        TunerStarted(tuner="random", tuner_type="random", max_trials=6, epochs=2, time=T0 + 1),
        TrialStarted(tuner="random", trial_id="02", number=3, hyperparameters=hps, epochs=2, time=T0 + 2),
        EpochStarted(tuner="random", trial_id="02", epoch=1, epochs=2, time=T0 + 2),
        EpochEnded(
            tuner="random",
            trial_id="02",
            epoch=1,
            epochs=2,
            metrics={"loss": 0.5, "accuracy": 0.8, "val_loss": 0.31204, "val_accuracy": 0.9021},
            time=T0 + 3,
        ),
        TrialFinished(
            tuner="random",
            trial_id="02",
            number=3,
            status=COMPLETED,
            hyperparameters=hps,
            metrics={"loss": 0.2, "accuracy": 0.95, "val_loss": 0.1812, "val_accuracy": 0.9521},
            objective=0.9521,
            epochs=2,
            fit_seconds=4.24,
            trainable_params=12_345,
            time=T0 + 6,
        ),
        TrialFinished(
            tuner="random",
            trial_id="03",
            number=4,
            status=FAILED,
            hyperparameters={"num_layers": 9, "nodes_dense": 512, "learning_rate": 0.01},
            reason="ResourceExhaustedError: OOM\nTraceback ...",
            time=T0 + 7,
        ),
        TunerFinished(
            tuner="random",
            status=FINISHED,
            search_seconds=220.4,
            trials_completed=1,
            trials_failed=1,
            best_trial_id="02",
            best_objective=0.9521,
            test_accuracy=0.948,
            trainable_params=12_345,
            time=T0 + 8,
        ),
        TunerStarted(tuner="aisara", tuner_type="aisara", max_trials=6, epochs=2, time=T0 + 9),
        TrialFinished(
            tuner="aisara",
            trial_id="1_1",
            number=1,
            status=COMPLETED,
            hyperparameters={"num_layers": 3},
            metrics={"val_accuracy": 0.91},
            objective=0.91,
            epochs=2,
            fit_seconds=3.0,
            round=1,
            time=T0 + 12,
        ),
        RoundFinished(
            tuner="aisara",
            round=1,
            bounds={"num_layers": [2, 10]},
            next_bounds={"num_layers": [2, 6]},
            impacts={"num_layers": 1.0},
            predicted_best={"num_layers": 3},
            best_trial_id="1_1",
            time=T0 + 13,
        ),
        StudyFinished(status="stopped", seconds=14.0, reason="cancelled by the user", time=T0 + 14),
    ]


EXPECTED_LINES = [
    "22:13:20 study quick started  tuners=random,aisara  objective=val_accuracy (max)  data=digits  model=dnn  seed=7  device=CPU",
    "22:13:21 random   started  type=random max_trials=6 epochs=2",
    "22:13:22 random   trial 3/6  started    num_layers=2 nodes_dense=128 learning_rate=0.00123",
    "22:13:23 random   trial 3/6  epoch 1/2  val_accuracy=0.9021 val_loss=0.3120",
    "22:13:26 random   trial 3/6  completed  val_accuracy=0.9521 val_loss=0.1812 params=12,345 fit=4.2s  num_layers=2 nodes_dense=128 learning_rate=0.00123",
    "22:13:27 random   trial 4/6  failed     ResourceExhaustedError: OOM  num_layers=9 nodes_dense=512 learning_rate=0.01",
    "22:13:28 random   finished in 3m 40s  completed=1 failed=1  best val_accuracy=0.9521 (trial 3)  test_accuracy=0.9480  params=12,345",
    "22:13:29 aisara   started  type=aisara max_trials=6 epochs=2",
    "22:13:32 aisara   trial 1/6  completed  val_accuracy=0.9100 fit=3.0s  round=1  num_layers=3",
    "22:13:33 aisara   round 1 finished  best trial 1  next bounds num_layers=[2, 6]",
    "22:13:34 study stopped in 14.0s: cancelled by the user",
]


# -- plain lines ---------------------------------------------------------------------


def test_plain_lines_for_short_study(utc):
    stream = io.StringIO()
    view = HeadlessView(stream=stream)

    for event in short_study():
        view(event)

    assert stream.getvalue().splitlines() == EXPECTED_LINES


def test_plain_lines_have_no_ansi_codes(utc):
    stream = io.StringIO()
    view = HeadlessView(stream=stream, color=True)

    for event in short_study():
        view(event)
    view.show_summary(collect(short_study()), [Path("runs/quick/summary.md")])

    assert "\x1b" not in stream.getvalue()


def test_plain_mode_when_term_is_dumb(monkeypatch):
    monkeypatch.setenv("TERM", "dumb")

    class TerminalStream(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert HeadlessView(stream=TerminalStream()).live is False
    monkeypatch.setenv("TERM", "xterm")
    assert HeadlessView(stream=TerminalStream()).live is True


def test_plain_lines_flush_each_line(utc):
    class CountingStream(io.StringIO):
        flushes = 0

        def flush(self) -> None:
            self.flushes += 1

    stream = CountingStream()
    view = HeadlessView(stream=stream)

    for event in short_study():
        view(event)

    assert stream.flushes == len(EXPECTED_LINES)


def test_ascii_only_replaces_other_characters(utc):
    stream = io.StringIO()
    view = HeadlessView(stream=stream, ascii_only=True)
    event = TrialFinished(
        tuner="random",
        trial_id="00",
        number=1,
        status=FAILED,
        hyperparameters={"activation": "tanh"},
        reason="loss → NaN",
        time=T0,
    )

    view(event)

    assert "loss ? NaN" in stream.getvalue()


def test_ascii_only_follows_stream_encoding():
    latin = io.TextIOWrapper(io.BytesIO(), encoding="latin-1")
    utf8 = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")

    assert HeadlessView(stream=latin).ascii_only is True
    assert HeadlessView(stream=utf8).ascii_only is False


def test_summary_plain_table(utc):
    stream = io.StringIO()
    view = HeadlessView(stream=stream)

    view.show_summary(collect(short_study()), [Path("runs/quick/summary.md")])

    lines = stream.getvalue().splitlines()
    assert lines[0].split() == ["measure", "random", "aisara"]
    assert "best val_accuracy" in lines[3]
    assert "95.21%" in lines[3]
    assert lines[-2:] == ["Reports:", "  runs/quick/summary.md"]


def test_logging_handler_plain_lines():
    stream = io.StringIO()
    view = HeadlessView(stream=stream)
    logger = logging.getLogger("tunescope.test_headless")
    logger.propagate = False
    logger.addHandler(view.logging_handler())
    try:
        logger.warning("trial %s failed", "03")
    finally:
        logger.handlers.clear()
        logger.propagate = True

    assert re.fullmatch(r"\d\d:\d\d:\d\d WARNING tunescope.test_headless: trial 03 failed\n", stream.getvalue())


# -- live display ----------------------------------------------------------------------


def burst(view: HeadlessView, epochs: int) -> None:
    view(TrialStarted(tuner="random", trial_id="00", number=1, hyperparameters={"num_layers": 2}, epochs=epochs))
    for epoch in range(1, epochs + 1):
        view(
            EpochEnded(
                tuner="random",
                trial_id="00",
                epoch=epoch,
                epochs=epochs,
                metrics={"val_accuracy": 0.5 + epoch / (4 * epochs), "val_loss": 1.0 / epoch},
            )
        )


def test_live_survives_epoch_burst():
    stream = io.StringIO()
    view = HeadlessView(stream=stream, live=True)

    with view:
        for event in short_study()[:2]:
            view(event)
        burst(view, 1000)

    assert "1000/1000" in stream.getvalue()


def test_live_sink_does_not_wait_for_redraws():
    view = HeadlessView(stream=io.StringIO(), live=True)

    with view:
        started = time.perf_counter()
        burst(view, 1000)
        seconds = time.perf_counter() - started

    # The sink only updates state. Rendering the table on each event costs a
    # millisecond or more (an estimate), so over a second for this burst.
    assert seconds < 1.0


def test_live_output_has_colour_codes():
    stream = io.StringIO()

    with HeadlessView(stream=stream, live=True) as view:
        for event in short_study():
            view(event)

    assert COLOR_CODE.search(stream.getvalue())


def test_live_no_color_removes_colour_codes(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    stream = io.StringIO()

    with HeadlessView(stream=stream, live=True) as view:
        for event in short_study():
            view(event)
    view.show_summary(collect(short_study()), [Path("runs/quick/summary.md")])

    assert "completed" in stream.getvalue()
    assert COLOR_CODE.search(stream.getvalue()) is None


def test_live_keeps_rows_within_height(monkeypatch):
    monkeypatch.setenv("LINES", "12")
    stream = io.StringIO()
    view = HeadlessView(stream=stream, live=True)
    for number in range(1, 31):
        view(TrialStarted(tuner="random", trial_id=f"t{number:02d}", number=number, hyperparameters={}))

    console = view._console
    lines = console.render_lines(view._live.renderable, console.options, pad=False)
    text = "\n".join("".join(segment.text for segment in line) for line in lines)

    rows = [line for line in text.splitlines() if line.startswith("random")]
    assert len(lines) <= 12
    assert rows[-1].split()[1] == "30"
    assert all(row.split()[1] != "1" for row in rows)


def test_live_summary_table():
    stream = io.StringIO()
    view = HeadlessView(stream=stream, live=True, color=False)

    view.show_summary(collect(short_study()), [Path("runs/quick/summary.md")])

    text = ANSI_ESCAPE.sub("", stream.getvalue())
    assert "Comparison" in text
    assert "95.21%" in text
    assert "runs/quick/summary.md" in text


def test_live_ascii_only_draws_ascii_bars():
    stream = io.StringIO()

    with HeadlessView(stream=stream, live=True, ascii_only=True) as view:
        for event in short_study():
            view(event)

    assert stream.getvalue().isascii()


def test_live_logging_handler_prints_above_display():
    stream = io.StringIO()
    view = HeadlessView(stream=stream, live=True, color=False)
    logger = logging.getLogger("tunescope.test_headless_live")
    logger.propagate = False
    logger.addHandler(view.logging_handler())
    try:
        with view:
            logger.warning("trial 03 failed")
    finally:
        logger.handlers.clear()
        logger.propagate = True

    assert "trial 03 failed" in stream.getvalue()


# -- failing output ---------------------------------------------------------------------


class BrokenPipeStream(io.StringIO):
    """A stream whose reader has gone: every write raises BrokenPipeError."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        raise BrokenPipeError(32, "Broken pipe")


def test_broken_pipe_never_raises_from_sink():
    stream = BrokenPipeStream()
    view = HeadlessView(stream=stream)

    for event in short_study():
        view(event)

    assert stream.writes == 1


def test_broken_pipe_logged_once(caplog):
    view = HeadlessView(stream=BrokenPipeStream())

    with caplog.at_level(logging.DEBUG, logger="tunescope.tui.headless"):
        for event in short_study():
            view(event)

    assert len([r for r in caplog.records if r.name == "tunescope.tui.headless"]) == 1


def test_broken_pipe_live_mode_never_raises():
    view = HeadlessView(stream=BrokenPipeStream(), live=True)

    with view:
        for event in short_study():
            view(event)
        view.logging_handler().handle(logging.makeLogRecord({"msg": "lost", "levelno": logging.INFO}))
    view.show_summary(collect(short_study()), [])

    assert view._stream.broken


def test_closed_stream_never_raises():
    stream = io.StringIO()
    stream.close()
    view = HeadlessView(stream=stream)

    for event in short_study():
        view(event)
    view.show_summary(collect(short_study()), [])

    assert view.live is False


def test_sink_from_worker_thread(utc):
    stream = io.StringIO()
    view = HeadlessView(stream=stream)

    worker = threading.Thread(target=lambda: [view(event) for event in short_study()])
    worker.start()
    worker.join(timeout=10)

    assert stream.getvalue().splitlines() == EXPECTED_LINES


@pytest.mark.parametrize("status", ["stopped", "failed", "not started"])
def test_comparison_status_other_than_finished_is_yellow(status: str) -> None:
    assert _styled_cell("status", status).style == "yellow"


def test_comparison_finished_status_is_plain() -> None:
    assert _styled_cell("status", "finished").style == ""


# -- progress and the run's log file ---------------------------------------------------


def stopped_study() -> list:
    """Random lands a completed and a failed trial, a cancel stops its third, and aisara never starts."""
    started = StudyStarted(
        study="quick", run_dir="runs/quick", tuners=["random", "aisara"], objective="val_accuracy", direction="max", space=[], seed=7, time=T0
    )
    trials = [
        TrialFinished(tuner="random", trial_id="00", number=1, status=COMPLETED, hyperparameters={}, objective=0.9, epochs=2, time=T0 + 2),
        TrialFinished(tuner="random", trial_id="01", number=2, status=FAILED, hyperparameters={}, reason="OOM", time=T0 + 3),
        TrialFinished(tuner="random", trial_id="02", number=3, status=CANCELLED, hyperparameters={}, reason="cancelled by the user", time=T0 + 4),
    ]
    return [
        started,
        TunerStarted(tuner="random", tuner_type="random", max_trials=8, epochs=2, time=T0 + 1),
        *trials,
        TunerFinished(tuner="random", status="stopped", search_seconds=4.0, trials_completed=1, trials_failed=1, time=T0 + 5),
        StudyFinished(status="stopped", seconds=6.0, reason="cancelled by the user", time=T0 + 6),
    ]


def live_bar_lines(view: HeadlessView) -> list[str]:
    console = view._console
    lines = console.render_lines(view._live.renderable, console.options, pad=False)
    text = "\n".join("".join(segment.text for segment in line) for line in lines)
    names = tuple(f"{name} " for name in view._state.tuners)
    return [line for line in text.splitlines() if line.startswith(names)]


def test_live_bars_skip_cancelled_trials():
    view = HeadlessView(stream=io.StringIO(), live=True, color=False, ascii_only=True)
    for event in stopped_study():
        view(event)
    random_bar = next(line for line in live_bar_lines(view) if line.startswith("random ") and "stopped" in line)
    assert " 2/8 " in random_bar
    assert " 3/8 " not in random_bar


def test_live_bars_not_started_after_study_end():
    view = HeadlessView(stream=io.StringIO(), live=True, color=False, ascii_only=True)
    events = stopped_study()
    for event in events[:-1]:
        view(event)
    assert "waiting" in live_bar_lines(view)[-1]
    view(events[-1])
    aisara_bar = live_bar_lines(view)[-1]
    assert aisara_bar.startswith("aisara ")
    assert "not started" in aisara_bar


def test_live_bars_resumed_study_skipped_tuner():
    """A resumed study skips random, finished by an earlier process, and is stopped during bayesian."""
    view = HeadlessView(stream=io.StringIO(), live=True, color=False, ascii_only=True)
    events = [
        StudyStarted(study="quick", run_dir="runs/quick", tuners=["random", "bayesian", "aisara"], objective="val_accuracy", direction="max", space=[], seed=7, time=T0),
        TunerStarted(tuner="bayesian", tuner_type="bayesian", max_trials=8, epochs=2, time=T0 + 1),
        TunerFinished(tuner="bayesian", status="stopped", search_seconds=4.0, time=T0 + 5),
        StudyFinished(status="stopped", seconds=6.0, time=T0 + 6),
    ]
    for event in events:
        view(event)
    random_bar, bayesian_bar, aisara_bar = live_bar_lines(view)
    assert "finished earlier" in random_bar
    assert "not started" not in random_bar
    assert "stopped" in bayesian_bar
    assert "not started" in aisara_bar


def test_log_file_kept_open_until_handler_closed(tmp_path):
    view = HeadlessView(stream=io.StringIO(), live=False)
    logger = logging.getLogger("tunescope.test_headless_log_file")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = view.logging_handler()
    logger.addHandler(handler)
    try:
        view(StudyStarted(study="small", run_dir=str(tmp_path), tuners=["random"], objective="val_accuracy", direction="max", space=[], seed=1))
        logger.info("during the study")
        view.stop(close_log=False)
        logger.info("wrote trials.csv")
        handler.close()
        logger.info("after the handler closed")
    finally:
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(logging.NOTSET)

    messages = [line.split(" ", 2)[2] for line in (tmp_path / HEADLESS_LOG_NAME).read_text(encoding="utf-8").splitlines()]
    assert messages == [
        "INFO tunescope.test_headless_log_file: during the study",
        "INFO tunescope.test_headless_log_file: wrote trials.csv",
    ]


@pytest.mark.slow
def test_headless_run_log_ends_with_reports(tmp_path: Path) -> None:
    """A real `tunescope run --no-tui`: its log file ends with the reports, and epoch events count from 1."""
    config = tmp_path / "tiny.toml"
    config.write_text(tiny_experiment(epochs=2, max_trials=1))
    run_dir = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "tunescope.tui.cli", "run", str(config), "--no-tui", "--out", str(run_dir)],
        capture_output=True, text=True, env={**os.environ, "TERM": "dumb"}, timeout=300,
    )
    assert result.returncode == 0, result.stderr

    log_lines = (run_dir / HEADLESS_LOG_NAME).read_text(encoding="utf-8").splitlines()
    assert "wrote trials.csv" in log_lines[-1]
    events = [json.loads(line) for line in (run_dir / "journal.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [e["epoch"] for e in events if e["event"] == "epoch_started"] == [1, 2]
    assert [e["epoch"] for e in events if e["event"] == "epoch_ended"] == [1, 2]
    assert all(e["epochs"] == 2 for e in events if e["event"].startswith("epoch_"))


def test_replay_counts_earlier_trials_silently(utc):
    stream = io.StringIO()
    view = HeadlessView(stream=stream)

    view.replay(short_study())

    assert stream.getvalue() == ""
    assert view._state.tuners["random"].done == {"02", "03"}
    assert view._state.tuners["aisara"].done == {"1_1"}
    assert view._state.finished is False


def test_resumed_tuner_no_longer_shows_old_end(utc):
    view = HeadlessView(stream=io.StringIO())
    view.replay(short_study())

    view(TunerStarted(tuner="random", tuner_type="random", max_trials=8, epochs=2, time=T0 + 20))

    assert view._state.tuners["random"].search_seconds is None
    assert view._state.tuners["random"].status == ""
    assert view._state.tuners["random"].done == {"02", "03"}
