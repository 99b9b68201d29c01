"""The event journal and the run directory."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from tunescope.core.errors import RunDirError
from tunescope.core.events import StudyFinished, TrialFinished, TunerStarted, event_from_dict
from tunescope.core.store import Journal, JournalTail, create_run_dir, follow_journal, open_run_dir, read_journal


def trial(number: int) -> TrialFinished:
    return TrialFinished(
        tuner="random", trial_id=f"{number:02d}", number=number, status="completed",
        hyperparameters={"lr": 0.01}, metrics={"val_accuracy": 0.9}, objective=0.9,
    )


def test_event_round_trips_through_dict() -> None:
    event = trial(3)
    assert event_from_dict(event.to_dict()) == event


def test_unknown_fields_are_dropped() -> None:
    data = {**TunerStarted("random", "random", 5, 2).to_dict(), "added_later": 1}
    assert isinstance(event_from_dict(data), TunerStarted)


def test_journal_writes_and_reads(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    events = [trial(1), trial(2), StudyFinished("finished", 1.0)]
    for event in events:
        journal(event)
    journal.close()
    assert read_journal(tmp_path / "journal.jsonl") == events


def test_torn_last_line_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    event = trial(1)
    journal = Journal(path)
    journal(event)
    journal.close()
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('{"event": "trial_finished", "tuner": "ran')
    assert read_journal(path) == [event]


def test_create_run_dir_copies_config(tmp_path: Path) -> None:
    run_dir = create_run_dir("quick", "seed = 1\n", tmp_path / "runs")
    assert run_dir.path.parent == tmp_path / "runs"
    assert run_dir.path.name.endswith("-quick")
    assert run_dir.config.read_text() == "seed = 1\n"


def test_create_run_dir_never_reuses(tmp_path: Path) -> None:
    first = create_run_dir("quick", "", tmp_path)
    second = create_run_dir("quick", "", tmp_path)
    assert first.path != second.path


def test_out_must_be_new_or_empty(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    with pytest.raises(RunDirError, match="already exists"):
        create_run_dir("quick", "", tmp_path, out=tmp_path / "taken")
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"


def test_open_run_dir_rejects_plain_folder(tmp_path: Path) -> None:
    with pytest.raises(RunDirError, match="not a tunescope run directory"):
        open_run_dir(tmp_path)


def test_journal_tail_reads_complete_lines(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    tail = JournalTail(path)
    assert tail.read() == []
    one, two, finished = trial(1), trial(2), StudyFinished("finished", 2.0)
    line_one, line_two = (json.dumps(event.to_dict()) + "\n" for event in (one, two))
    path.write_text(line_one + "not json\n" + line_two[:10], encoding="utf-8")
    assert tail.read() == [one]
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line_two[10:])
    assert tail.read() == [two]
    journal = Journal(path)
    journal(finished)
    journal(trial(3))
    journal.close()
    assert tail.read() == [finished]
    assert tail.finished
    assert tail.read() == []


def test_follow_journal_sees_appended_events(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    journal(trial(1))

    def writer() -> None:
        journal(trial(2))
        journal(StudyFinished("finished", 2.0))

    thread = threading.Timer(0.3, writer)
    thread.start()
    seen = list(follow_journal(path, stop=lambda: False, poll_seconds=0.05))
    thread.join()
    journal.close()
    assert [type(e).__name__ for e in seen] == ["TrialFinished", "TrialFinished", "StudyFinished"]
