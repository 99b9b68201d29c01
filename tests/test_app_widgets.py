"""The app's pictures and helpers without the app: heat-map text, status marks, progress estimates, trial details, log files."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.text import Text

from tunescope.core.config import Objective
from tunescope.core.events import CANCELLED, COMPLETED, FAILED, STOPPED, EpochEnded, EpochStarted, TrialFinished, TrialStarted, TunerFinished, TunerStarted
from tunescope.core.explain.ascii import ASCII_RAMP, UNICODE_RAMP
from tunescope.core.explain.grid import objective_grid
from tunescope.core.space import HyperParameter, SearchSpace
from tunescope.tui.log_file import LogTail, _start_of_last_lines, level_of_line
from tunescope.tui.widgets.heat_map import draw_grid, level_of, pairs_of
from tunescope.tui.widgets.trial_detail import detail_text
from tunescope.tui.widgets.trial_table import FIELDS, INTERRUPTED, TrialRecord, TrialTable, hyperparameter_text, lay_out
from tunescope.tui.widgets.tuner_progress import TunerProgress, TunerState, seconds_left

# 2023-11-14 22:13:20 UTC.
T0 = 1_700_000_000.0

SPACE = SearchSpace(
    (
        HyperParameter("units", "int", 1, 3),
        HyperParameter("rate", "log", 1e-4, 1e-2),
        HyperParameter("activation", "choice", values=("relu", "tanh")),
    )
)


def trial(number: int, units: int, activation: str, objective: float | None) -> TrialFinished:
    status = COMPLETED if objective is not None else FAILED
    return TrialFinished(
        "random", f"{number:02d}", number, status, {"units": units, "rate": 1e-3, "activation": activation}, objective=objective
    )


def grid_text(direction: str, ascii_only: bool) -> list[str]:
    trials = [trial(1, 1, "relu", 0.5), trial(2, 3, "tanh", 0.9), trial(3, 2, "relu", 0.75), trial(4, 2, "tanh", None)]
    grid = objective_grid(trials, SPACE, "units", "activation", Objective("val_accuracy", direction))
    return draw_grid(grid, width=60, ascii_only=ascii_only).plain.splitlines()


def test_heat_map_ascii_carries_values() -> None:
    lines = grid_text("max", ascii_only=True)
    tanh_row = next(line for line in lines if line.startswith("tanh"))
    relu_row = next(line for line in lines if line.startswith("relu"))
    # Three columns (units 1, 2, 3) of the widest cells, four characters each.
    assert tanh_row.endswith("|" + "." * 4 + "." * 4 + ASCII_RAMP[-1] * 4 + "|")
    assert relu_row.endswith("|" + ASCII_RAMP[0] * 4 + ASCII_RAMP[5] * 4 + "." * 4 + "|")
    assert all(ord(character) < 128 for line in lines for character in line)


def test_heat_map_min_direction_flips_levels() -> None:
    lines = grid_text("min", ascii_only=False)
    tanh_row = next(line for line in lines if line.startswith("tanh"))
    assert tanh_row.endswith(UNICODE_RAMP[0] * 4 + "│")


def test_heat_map_fits_narrow_width() -> None:
    trials = [trial(1, 1, "relu", 0.5)]
    grid = objective_grid(trials, SPACE, "rate", "units", Objective("val_accuracy", "max"))
    lines = draw_grid(grid, width=30).plain.splitlines()
    assert max(len(line) for line in lines) <= 30


def test_level_of_spans_ramp() -> None:
    assert level_of(0.5, 0.5, 0.9, "max", 8) == 0
    assert level_of(0.9, 0.5, 0.9, "max", 8) == 7
    assert level_of(0.9, 0.5, 0.9, "min", 8) == 0
    assert level_of(0.7, 0.7, 0.7, "max", 8) == 7


def test_pairs_of_space() -> None:
    assert pairs_of(SPACE) == [("units", "rate"), ("units", "activation"), ("rate", "activation")]
    assert pairs_of(SearchSpace((HyperParameter("units", "int", 1, 3),))) == [("units", None)]


def test_status_marks_fall_back_to_ascii() -> None:
    assert TrialTable(ascii_only=True)._status_cell(FAILED).plain == "x FAILED"
    assert TrialTable(ascii_only=False)._status_cell(FAILED).plain == "✗ FAILED"


def test_hyperparameter_text_is_compact() -> None:
    assert hyperparameter_text({"units": 64, "rate": 0.00123, "activation": "relu"}) == "units=64 rate=0.00123 activation=relu"


def test_seconds_left_uses_event_times() -> None:
    state = TunerState("random", max_trials=10, started=100.0, landed=4)
    assert seconds_left(state, now=140.0) == 60.0
    assert seconds_left(TunerState("random", max_trials=10, started=100.0), now=140.0) is None


def running_record(current_epoch: int, epochs: int, metrics: dict[str, float]) -> TrialRecord:
    return TrialRecord(
        tuner="random",
        trial_id="02",
        number=3,
        hyperparameters={"units": 2},
        arrival=2,
        epoch=max(current_epoch - 1, 0),
        epochs=epochs,
        current_epoch=current_epoch,
        metrics=metrics,
        round=1,
    )


def test_detail_running_names_epoch_and_metric() -> None:
    record = running_record(3, 6, {"val_accuracy": 0.91})
    first_line = detail_text(record, "val_accuracy").plain.splitlines()[0]
    assert first_line == "random trial 3 (round 1): running: epoch 3 of 6, val_accuracy 0.91 so far"


def test_detail_running_before_metrics() -> None:
    assert detail_text(running_record(1, 6, {}), "val_accuracy").plain.startswith(
        "random trial 3 (round 1): running: epoch 1 of 6, no val_accuracy yet"
    )
    assert detail_text(running_record(0, 6, {}), "val_accuracy").plain.startswith(
        "random trial 3 (round 1): running: waiting for its first epoch"
    )


def test_detail_uses_trial_number_only() -> None:
    record = running_record(1, 6, {})
    record.status, record.reason, record.trainable_params = FAILED, "out of memory", 1234
    text = detail_text(record, "val_accuracy").plain
    assert text.startswith("random trial 3 (round 1): failed, 1,234 trainable parameters\n")
    assert "02" not in text
    assert text.endswith("reason: out of memory")


def test_progress_time_left_follows_clock() -> None:
    now = [100.0]
    progress = TunerProgress(clock=lambda: now[0])
    progress.start_study(["random"], "val_accuracy", "max", {"random": 4})
    progress.tuner_started(TunerStarted("random", "random", 4, 2, time=T0))
    landed = TrialFinished("random", "01", 1, COMPLETED, {}, objective=0.9, time=T0 + 10)
    progress.mark_time(landed.time)
    progress.trial_finished(landed)

    progress.show_changes()
    assert seconds_left(progress.tuners["random"], progress.now) == 30.0
    now[0] += 2.0
    progress.show_changes()
    assert progress.now == T0 + 12
    assert seconds_left(progress.tuners["random"], progress.now) == 36.0


def test_level_of_line_reads_file_format() -> None:
    assert level_of_line("2026-12-04 22:31:37,123 WARNING tunescope.core.study: trial 2 diverged") == logging.WARNING
    assert level_of_line("2026-12-04 22:31:37,123 ERROR tunescope: failed") == logging.ERROR
    assert level_of_line('  File "study.py", line 3', previous=logging.ERROR) == logging.ERROR


def test_log_tail_waits_for_file(tmp_path: Path) -> None:
    path = tmp_path / "tunescope.log"
    tail = LogTail(path)
    assert tail.read() == []
    path.write_text("first\nsecond\n", encoding="utf-8")
    assert tail.read() == ["first", "second"]
    assert tail.read() == []


def append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text)


def test_log_tail_holds_partial_line(tmp_path: Path) -> None:
    path = tmp_path / "tunescope.log"
    path.write_text("one\ntw", encoding="utf-8")
    tail = LogTail(path)
    assert tail.read() == ["one"]
    assert tail.read() == []
    append(path, "o\nthree\n")
    assert tail.read() == ["two", "three"]


def test_log_tail_reads_at_most_max_lines(tmp_path: Path) -> None:
    path = tmp_path / "tunescope.log"
    path.write_text("".join(f"line {number}\n" for number in range(5)), encoding="utf-8")
    tail = LogTail(path)
    assert tail.read(max_lines=3) == ["line 0", "line 1", "line 2"]
    assert tail.read(max_lines=3) == ["line 3", "line 4"]


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(st.binary(max_size=5).map(lambda line: line.replace(b"\n", b"")), max_size=12),
    ends_with_newline=st.booleans(),
    count=st.integers(min_value=0, max_value=15),
    block_size=st.integers(min_value=1, max_value=8),
)
def test_start_of_last_lines_keeps_count(lines: list[bytes], ends_with_newline: bool, count: int, block_size: int) -> None:
    data = b"\n".join(lines) + (b"\n" if ends_with_newline and lines else b"")

    start = _start_of_last_lines(io.BytesIO(data), count, block_size)

    if count == 0:
        assert start == len(data)
    else:
        assert start == 0 or data[start - 1 : start] == b"\n"
        assert lines_of(data[start:]) == lines_of(data)[-count:]


def lines_of(data: bytes) -> list[bytes]:
    """Split as a log file reader does: a newline ends a line, and a last line without one still counts."""
    if not data:
        return []
    return data.removesuffix(b"\n").split(b"\n")


def test_log_tail_backlog_starts_at_latest_lines(tmp_path: Path) -> None:
    path = tmp_path / "tunescope.log"
    path.write_text("".join(f"line {number}\n" for number in range(10)), encoding="utf-8")
    tail = LogTail(path, backlog=3)
    assert tail.read() == ["line 7", "line 8", "line 9"]
    path.rename(tmp_path / "tunescope.log.1")
    path.write_text("new 1\nnew 2\n", encoding="utf-8")
    # The file that replaced the first one is read whole.
    assert tail.read() == ["new 1", "new 2"]


def test_log_tail_rereads_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "tunescope.log"
    path.write_text("old line one\nold line two\n", encoding="utf-8")
    tail = LogTail(path)
    assert tail.read() == ["old line one", "old line two"]
    path.write_text("new\n", encoding="utf-8")
    assert tail.read() == ["new"]


def test_log_tail_follows_rotation(tmp_path: Path) -> None:
    path = tmp_path / "tunescope.log"
    path.write_text("before\n", encoding="utf-8")
    tail = LogTail(path)
    assert tail.read() == ["before"]
    append(path, "last of old\n")
    path.rename(tmp_path / "tunescope.log.1")
    path.write_text("first of new\n", encoding="utf-8")
    assert tail.read() == ["last of old", "first of new"]


def test_log_tail_reads_file_after_removal(tmp_path: Path) -> None:
    path = tmp_path / "tunescope.log"
    path.write_text("kept\nunfinish", encoding="utf-8")
    tail = LogTail(path)
    assert tail.read() == ["kept"]
    path.unlink()
    assert tail.read() == ["unfinish"]
    path.write_text("again\n", encoding="utf-8")
    assert tail.read() == ["again"]
    tail.close()


def test_lay_out_crops_and_aligns() -> None:
    fields = {name: Text("") for name in FIELDS}
    fields["tuner"] = Text("bayesian-long")
    fields["number"] = Text("3")
    fields["hyperparameters"] = Text("units=2")
    line = lay_out(fields, {name: 4 for name in FIELDS}).plain
    assert line.startswith("bay…  ")
    assert line[6:10] == "   3"
    assert line.endswith("  uni…")
    assert len(line) == 7 * 4 + 6 * 2


def test_trial_table_epochs_count_from_one() -> None:
    table = TrialTable(metric="val_accuracy")
    record = table.trial_started(TrialStarted("random", "00", 1, {"units": 2}, epochs=6))
    table.epoch_progressed(EpochStarted("random", "00", 1, 6))
    assert (record.epoch, record.current_epoch, record.epochs) == (0, 1, 6)
    assert detail_text(record, "val_accuracy").plain.startswith("random trial 1: running: epoch 1 of 6, no val_accuracy yet")

    for epoch in range(1, 7):
        table.epoch_progressed(EpochStarted("random", "00", epoch, 6))
        table.epoch_progressed(EpochEnded("random", "00", epoch, 6, {"val_accuracy": 0.5 + epoch / 100}))
        assert record.epoch == epoch
        assert record.epoch <= record.epochs
    assert detail_text(record, "val_accuracy").plain.startswith("random trial 1: running: epoch 6 of 6, val_accuracy 0.56 so far")

    table.trial_finished(TrialFinished("random", "00", 1, COMPLETED, {"units": 2}, objective=0.56, epochs=6))
    assert (record.epoch, record.epochs) == (6, 6)


def test_trial_table_hyperband_continuation_epochs() -> None:
    """A Hyperband trial that trains epochs 3 and 4 of 4 after an earlier trial's first 2."""
    table = TrialTable(metric="val_accuracy")
    record = table.trial_started(TrialStarted("hyperband", "0010", 5, {"units": 2}, epochs=2))
    table.epoch_progressed(EpochStarted("hyperband", "0010", 3, 4))
    assert detail_text(record, "val_accuracy").plain.startswith("hyperband trial 5: running: epoch 3 of 4")
    table.epoch_progressed(EpochEnded("hyperband", "0010", 3, 4, {}))
    table.epoch_progressed(EpochEnded("hyperband", "0010", 4, 4, {}))
    assert (record.epoch, record.epochs) == (4, 4)


def progress_text(progress: TunerProgress) -> list[str]:
    console = Console(width=100, record=True, file=io.StringIO())
    console.print(progress.render())
    return console.export_text().splitlines()


def test_progress_never_started_study() -> None:
    progress = TunerProgress(ascii_only=True)
    assert progress_text(progress) == ["waiting for the study to start"]
    progress.study_finished()
    assert progress_text(progress) == ["the study did not start"]


def study_progress(clock: Callable[[], float] = lambda: 0.0) -> TunerProgress:
    """Progress of a study of random (3 trials: completed, failed, cancelled), then aisara, which never starts."""
    progress = TunerProgress(ascii_only=True, clock=clock)
    progress.start_study(["random", "aisara"], "val_accuracy", "max", {"random": 3, "aisara": 3})
    progress.tuner_started(TunerStarted("random", "random", 3, 2, time=T0))
    progress.trial_finished(TrialFinished("random", "00", 1, COMPLETED, {}, objective=0.9, time=T0 + 10))
    progress.trial_finished(TrialFinished("random", "01", 2, FAILED, {}, time=T0 + 20))
    progress.trial_finished(TrialFinished("random", "02", 3, CANCELLED, {}, time=T0 + 30))
    return progress


def test_progress_skips_cancelled_trials() -> None:
    progress = study_progress()
    random_row = progress_text(progress)[0]
    assert "2/3 (1 failed)" in random_row
    assert "3/3" not in random_row


def test_progress_not_started_after_study_end() -> None:
    progress = study_progress()
    assert "waiting" in progress_text(progress)[1]
    progress.tuner_finished(TunerFinished("random", STOPPED, 30.0, trials_completed=1, trials_failed=1))
    progress.study_finished()
    aisara_row = progress_text(progress)[1]
    assert "not started" in aisara_row
    assert "waiting" not in aisara_row


def test_progress_owner_ended_stops_estimates() -> None:
    now = [100.0]
    progress = study_progress(clock=lambda: now[0])
    progress.mark_time(T0 + 30)
    progress.show_changes()
    assert "left ~" in progress_text(progress)[0]

    progress.set_owner_ended(True)
    now[0] += 60.0
    progress.show_changes()
    random_row = progress_text(progress)[0]
    assert "interrupted" in random_row
    assert "left ~" not in random_row
    assert progress.now == T0 + 30

    progress.set_owner_ended(False)
    progress.show_changes()
    assert "left ~" in progress_text(progress)[0]


def test_detail_names_halted_trial() -> None:
    record = TrialRecord(tuner="random", trial_id="02", number=3, hyperparameters={}, arrival=2, epochs=6)
    record.status = INTERRUPTED

    assert "halted: its process ended" in detail_text(record, "val_accuracy").plain
