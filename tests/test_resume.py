"""`tunescope resume` after `kill -9`, for every tuner type, and the plan it follows.

The kill tests start each `tunescope` process by forking a helper process
that has already imported TensorFlow (run this file as a script to get
one), so that a session costs its trials rather than ten seconds of imports.
Each child runs the real command line, `tunescope.tui.cli.main`, and is
killed with SIGKILL while the test watches the run's journal.
"""

from __future__ import annotations

import json
import logging
import os
import random
import select
import signal
import subprocess
import sys
import textwrap
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tunescope.core.errors import RunDirError
from tunescope.core.events import (
    CANCELLED,
    COMPLETED,
    FAILED,
    FINISHED,
    EpochEnded,
    Event,
    RoundFinished,
    StudyFinished,
    StudyStarted,
    TrialFinished,
    TrialStarted,
    TunerFinished,
    TunerStarted,
)
from tunescope.core.resume import MAX_INTERRUPTED_RETRIES, plan_resume
from tunescope.core.store import Journal, read_journal

MAX_TRIALS = 4

# Every tuner type gets a budget of 4 trials over the same space, a 2 x 2
# grid, so that grid search also has exactly 4 points. Hyperband needs 3
# epochs to form a bracket: 3 trials of 1 epoch, then the best continued to 3.
TUNERS = {
    "random": 'type = "random"',
    "bayesian": 'type = "bayesian"\nnum_initial_points = 2',
    "hyperband": 'type = "hyperband"\nepochs = 3\nfactor = 3',
    "grid": 'type = "grid"',
    "aisara": 'type = "aisara"\ntrials_per_round = 2\nrounds = 2',
}

# Seconds any single wait in these tests may take before the test fails.
WAIT_SECONDS = 120


def experiment_text(tuner: str, max_trials: int = MAX_TRIALS) -> str:
    return textwrap.dedent(
        f"""
        [experiment]
        name = "survive"
        seed = 5
        [dataset]
        name = "digits"
        train_size = 150
        test_size = 100
        [model]
        family = "dnn"
        [budget]
        max_trials = {max_trials}
        epochs = 1
        batch_size = 64
        [[space]]
        name = "num_layers"
        type = "int"
        min = 1
        max = 2
        [[space]]
        name = "learning_rate"
        type = "log"
        min = 1e-3
        max = 1e-2
        step = 10
        [[tuners]]
        """
    ) + TUNERS[tuner] + "\n"


# -- the fork server ------------------------------------------------------------


def serve() -> None:
    """Fork a `tunescope` process per request, from one process that imported TensorFlow once.

    Reads one JSON request per line on stdin and writes one JSON reply line
    to stdout. {"argv": [...], "cwd": ..., "log": ...} forks a child that
    runs `main(argv)` with stdout and stderr in the file `log`, and replies
    {"pid": ...}. {"wait": pid, "timeout": s} replies {"status": exit
    status, or -signal} or {"status": null} after the timeout.

    Only imports happen before the fork: TensorFlow has not started its
    thread pools yet, so each child starts them afresh.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras  # noqa: F401
    import keras_tuner  # noqa: F401
    import tensorflow  # noqa: F401

    import tunescope.core.tuners.tuner  # noqa: F401
    import tunescope.tui.headless  # noqa: F401
    from tunescope.tui.cli import main

    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if "argv" in request:
            pid = os.fork()
            if pid == 0:
                _run_child(main, request)
            print(json.dumps({"pid": pid}), flush=True)
        else:
            print(json.dumps({"status": _wait(request["wait"], request["timeout"])}), flush=True)


def _run_child(main: Any, request: dict[str, Any]) -> None:
    code = 1
    try:
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(log, 1)
        os.dup2(log, 2)
        stdin = os.open(os.devnull, os.O_RDONLY)
        os.dup2(stdin, 0)
        os.chdir(request["cwd"])
        os.environ.update(request.get("env", {}))
        code = main(request["argv"])
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _wait(pid: int, timeout: float) -> int | None:
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.05)


class ForkServer:
    """The test side of `serve`."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._reply(timeout=WAIT_SECONDS) == {"ready": True}

    def start(self, argv: list[str], cwd: Path, log: Path) -> int:
        self._send({"argv": argv, "cwd": str(cwd), "log": str(log)})
        return self._reply(timeout=30)["pid"]

    def wait(self, pid: int, timeout: float = WAIT_SECONDS) -> int | None:
        self._send({"wait": pid, "timeout": timeout})
        return self._reply(timeout=timeout + 30)["status"]

    def close(self) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def _send(self, request: dict[str, Any]) -> None:
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()

    def _reply(self, timeout: float) -> dict[str, Any]:
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        assert ready, f"the fork server did not answer within {timeout} s"
        line = self.process.stdout.readline()
        assert line, "the fork server exited"
        return json.loads(line)


@pytest.fixture(scope="module")
def fork_server() -> Iterator[ForkServer]:
    server = ForkServer()
    yield server
    server.close()


# -- sessions --------------------------------------------------------------------


def journal_events(path: Path) -> list[dict[str, Any]]:
    """Parse the complete lines of a journal that another process is writing."""
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines(keepends=True) if line.endswith("\n")]


def kill_session(server: ForkServer, argv: list[str], workdir: Path, journal: Path, trigger: tuple[str, int]) -> None:
    """Start `argv`, wait for the trigger's count of new events of its kind, and SIGKILL the process."""
    kind, count = trigger
    before = sum(1 for event in journal_events(journal) if event["event"] == kind)
    log = workdir / f"session-{len(list(workdir.glob('session-*.log'))) + 1}.log"
    pid = server.start(argv, workdir, log)
    deadline = time.monotonic() + WAIT_SECONDS
    while sum(1 for event in journal_events(journal) if event["event"] == kind) - before < count:
        status = server.wait(pid, timeout=0)
        if status is not None or time.monotonic() > deadline:
            if status is None:
                os.kill(pid, signal.SIGKILL)
                server.wait(pid)
            pytest.fail(f"{argv}: no {count} new {kind} events (exit status {status}):\n{log.read_text()[-3000:]}")
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    assert server.wait(pid) == -signal.SIGKILL, log.read_text()[-3000:]


def finish_session(server: ForkServer, argv: list[str], workdir: Path) -> tuple[int | None, str]:
    log = workdir / f"session-{len(list(workdir.glob('session-*.log'))) + 1}.log"
    pid = server.start(argv, workdir, log)
    status = server.wait(pid)
    if status is None:
        os.kill(pid, signal.SIGKILL)
        server.wait(pid)
    return status, log.read_text()


def kill_schedule(tuner: str) -> list[tuple[str, int]]:
    """Three kill points, seeded per tuner type: (event kind, new events of that kind).

    Random search is killed three times in the middle of an epoch, which
    interrupts its first trial every time, so that trial is given up. The
    others draw from points that each let at most one more trial finish, so
    a trial is left for the last process whatever the timing. The third kill
    waits for a trial to end or start, so that no trial is interrupted three
    times there: an AiSara round with a given-up trial would stop early.
    """
    if tuner == "random":
        return [("epoch_started", 1)] * 3
    rng = random.Random(f"kill-{tuner}")
    mid_trial = [("epoch_started", 1), ("epoch_ended", 1)]
    between_trials = [("trial_finished", 1), ("trial_started", 2)]
    return [rng.choice(mid_trial + between_trials), rng.choice(mid_trial + between_trials), rng.choice(between_trials)]


# -- the kill tests ---------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("tuner", list(TUNERS))
def test_kill_resume_keeps_trials(tuner: str, fork_server: ForkServer, tmp_path: Path) -> None:
    config = tmp_path / "survive.toml"
    config.write_text(experiment_text(tuner))
    run_dir = tmp_path / "run"
    journal = run_dir / "journal.jsonl"

    reference = tmp_path / "reference"
    status, output = finish_session(fork_server, ["run", str(config), "--no-tui", "--out", str(reference)], tmp_path)
    assert status == 0, output[-3000:]
    uninterrupted = [e for e in read_journal(reference / "journal.jsonl") if isinstance(e, TrialFinished)]
    assert len(uninterrupted) == MAX_TRIALS

    schedule = kill_schedule(tuner)
    kill_session(fork_server, ["run", str(config), "--no-tui", "--out", str(run_dir)], tmp_path, journal, schedule[0])
    for trigger in schedule[1:]:
        kill_session(fork_server, ["resume", str(run_dir)], tmp_path, journal, trigger)
    status, output = finish_session(fork_server, ["resume", str(run_dir)], tmp_path)
    assert status == 0, output[-3000:]

    events = read_journal(journal)
    assert isinstance(events[-1], StudyFinished)
    assert events[-1].status == FINISHED
    assert len([e for e in events if isinstance(e, StudyStarted)]) == 4

    finished = [e for e in events if isinstance(e, TrialFinished)]
    ended = [e for e in finished if e.status != CANCELLED]
    rows_per_trial = Counter(e.trial_id for e in ended)
    assert len(rows_per_trial) == len(uninterrupted)
    assert max(rows_per_trial.values()) == 1

    # A trial that ended is never started again.
    for end in ended:
        later = events[events.index(end) + 1:]
        assert not [e for e in later if isinstance(e, TrialStarted) and e.trial_id == end.trial_id], end.trial_id

    # Numbering continues across processes: one number per trial, 1..N.
    numbers = {e.trial_id: e.number for e in ended}
    assert sorted(numbers.values()) == list(range(1, MAX_TRIALS + 1))
    for start in (e for e in events if isinstance(e, TrialStarted)):
        assert start.number == numbers[start.trial_id]

    rows = (run_dir / "trials.csv").read_text().splitlines()
    assert len(rows) == 1 + MAX_TRIALS

    result = [e for e in events if isinstance(e, TunerFinished)][-1]
    last_start = [e for e in events if isinstance(e, TunerStarted)][-1]
    assert last_start.previous_search_seconds > 0
    assert result.search_seconds > last_start.previous_search_seconds

    logs = "".join(log.read_text() for log in tmp_path.glob("session-*.log"))
    assert "Reloading Tuner" not in logs
    assert "Traceback" not in logs

    if tuner == "random":
        given_up = [e for e in ended if e.status == FAILED]
        assert len(given_up) == 1
        assert f"given up after {MAX_INTERRUPTED_RETRIES} retries" in given_up[0].reason
    if tuner == "aisara":
        rounds = [e.round for e in events if isinstance(e, RoundFinished)]
        assert len(rounds) == len(set(rounds))


@pytest.mark.slow
def test_extend_finished_run(fork_server: ForkServer, tmp_path: Path) -> None:
    config = tmp_path / "extend.toml"
    config.write_text(experiment_text("random", max_trials=2))
    run_dir = tmp_path / "run"

    status, output = finish_session(fork_server, ["run", str(config), "--no-tui", "--out", str(run_dir)], tmp_path)
    assert status == 0, output[-3000:]
    status, output = finish_session(fork_server, ["resume", str(run_dir)], tmp_path)
    assert status == 2
    assert "the run is finished" in output
    status, output = finish_session(fork_server, ["resume", str(run_dir), "--extend", "1"], tmp_path)
    assert status == 0, output[-3000:]

    events = read_journal(run_dir / "journal.jsonl")
    finished = [e for e in events if isinstance(e, TrialFinished)]
    assert [e.number for e in finished] == [1, 2, 3]
    assert len({e.trial_id for e in finished}) == 3
    assert [e.max_trials for e in events if isinstance(e, TunerStarted)] == [2, 3]
    assert len((run_dir / "trials.csv").read_text().splitlines()) == 4


@pytest.mark.slow
def test_unreadable_tuner_state_fails_tuner(fork_server: ForkServer, tmp_path: Path) -> None:
    config = tmp_path / "torn.toml"
    config.write_text(experiment_text("random", max_trials=2))
    run_dir = tmp_path / "run"
    journal = run_dir / "journal.jsonl"
    kill_session(fork_server, ["run", str(config), "--no-tui", "--out", str(run_dir)], tmp_path, journal, ("trial_started", 2))

    # As if the kill had landed while Keras Tuner rewrote the oracle's state.
    oracle = run_dir / "keras_tuner" / "random" / "oracle.json"
    oracle.write_text(oracle.read_text()[:40])
    status, output = finish_session(fork_server, ["resume", str(run_dir)], tmp_path)
    assert status == 0, output[-3000:]

    result = [e for e in read_journal(journal) if isinstance(e, TunerFinished)][-1]
    assert result.status == "failed"
    assert "cannot be reloaded" in result.reason
    assert "move that folder away" in result.reason


# -- the plan, from synthetic journals ---------------------------------------------------

SPACE = [
    {"name": "num_layers", "type": "int", "min": 1, "max": 2, "step": None},
    {"name": "learning_rate", "type": "log", "min": 0.001, "max": 0.01, "step": 10},
]


def write_run(run_dir: Path, events: list[Event], config: str | None = None) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.toml").write_text(config if config is not None else experiment_text("random"))
    journal = Journal(run_dir / "journal.jsonl")
    for event in events:
        journal(event)
    journal.close()
    return run_dir


def study_started(tmp_path: Path) -> StudyStarted:
    from tunescope.core.config import parse_experiment

    experiment = parse_experiment(experiment_text("random"), base_dir=tmp_path)
    return StudyStarted(
        study="survive", run_dir=str(tmp_path), tuners=["random"], objective="val_accuracy", direction="max",
        space=experiment.space.to_dicts(), seed=5, dataset="digits", model="dnn", config_dir=str(tmp_path), time=100.0,
    )


def tuner_started(time_: float, max_trials: int = MAX_TRIALS, previous: float = 0.0) -> TunerStarted:
    return TunerStarted(
        "random", "random", max_trials, 1, settings={}, previous_search_seconds=previous, time=time_,
    )


def trial(kind: type, trial_id: str, number: int, time_: float, status: str = COMPLETED) -> Event:
    if kind is TrialStarted:
        return TrialStarted("random", trial_id, number, {"num_layers": 1}, time=time_)
    return TrialFinished("random", trial_id, number, status, {"num_layers": 1}, objective=0.5, time=time_)


def test_plan_counts_interruptions(tmp_path: Path) -> None:
    events = [
        study_started(tmp_path),
        tuner_started(100.0),
        trial(TrialStarted, "0", 1, 101.0),
        trial(TrialFinished, "0", 1, 103.0),
        trial(TrialStarted, "1", 2, 104.0),
        tuner_started(200.0),
        trial(TrialStarted, "1", 2, 201.0),
        tuner_started(300.0),
        trial(TrialStarted, "1", 2, 302.0),
        EpochEnded("random", "1", 1, 1, {"loss": 1.0}, time=305.0),
    ]
    plan = plan_resume(write_run(tmp_path / "run", events))
    history = plan.tuners["random"]
    assert history.interruptions == {"1": 3}
    assert history.ended == {"0"}
    assert history.numbers == {"0": 1, "1": 2}


def test_plan_labels_trials_by_number(tmp_path: Path) -> None:
    events = [
        study_started(tmp_path),
        tuner_started(100.0),
        trial(TrialStarted, "0", 1, 101.0),
        trial(TrialFinished, "0", 1, 103.0),
        trial(TrialStarted, "1", 2, 104.0),
    ]
    history = plan_resume(write_run(tmp_path / "run", events)).tuners["random"]
    assert history.trial_label("1") == "trial 2 (id 1)"
    assert history.trial_label("7") == "trial id 7"


def test_extended_aisara_warns_when_ended(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import keras_tuner
    from keras_tuner.engine.trial import TrialStatus

    from tunescope.core.space import HyperParameter, SearchSpace
    from tunescope.core.tuners.aisara import AiSaraOracle

    space = SearchSpace((HyperParameter("num_layers", "int", 1, 4), HyperParameter("dropout", "float", 0.0, 0.5)))
    objective = keras_tuner.Objective("val_accuracy", "max")

    def make_oracle(max_trials: int) -> AiSaraOracle:
        oracle = AiSaraOracle(objective, space, trials_per_round=3, rounds=1, seed=3, max_trials=max_trials)
        oracle._set_project_dir(str(tmp_path), "aisara")
        return oracle

    finished = make_oracle(max_trials=3)
    for index in range(3):
        created = finished.create_trial("tuner0")
        accuracy = 0.5 + 0.1 * index
        finished.update_trial(created.trial_id, {"val_accuracy": accuracy, "val_loss": 1.0 - accuracy})
        created.status = TrialStatus.COMPLETED
        finished.end_trial(created)
    assert finished.finished

    extended = make_oracle(max_trials=4)
    with caplog.at_level(logging.WARNING, logger="tunescope.core.tuners.aisara"):
        extended.reload()

    assert "its one round ran" in caplog.text
    assert "max_trials=4 adds no trials" in caplog.text
    assert extended.create_trial("tuner0").status == TrialStatus.STOPPED


def test_plan_adds_session_times(tmp_path: Path) -> None:
    # Sessions of 4 s and 1 s cut short, then 5 s that finished and
    # reported 10 s in all, then 2 s cut short again.
    events = [
        study_started(tmp_path),
        tuner_started(100.0),
        trial(TrialStarted, "0", 1, 101.0),
        trial(TrialFinished, "0", 1, 104.0),
        tuner_started(200.0),
        trial(TrialStarted, "1", 2, 201.0),
        tuner_started(300.0),
        TunerFinished("random", "stopped", 10.0, time=305.0),
        StudyFinished("stopped", 5.0, time=305.5),
        tuner_started(400.0),
        trial(TrialStarted, "2", 3, 402.0),
    ]
    plan = plan_resume(write_run(tmp_path / "run", events))
    assert plan.tuners["random"].previous_search_seconds == pytest.approx(12.0)


def test_plan_skips_finished_tuner(tmp_path: Path) -> None:
    events = [
        study_started(tmp_path),
        tuner_started(100.0),
        TunerFinished("random", FINISHED, 3.0, time=103.0),
    ]
    plan = plan_resume(write_run(tmp_path / "run", events))
    assert plan.skips("random")


def test_plan_rejects_finished_run(tmp_path: Path) -> None:
    events = [
        study_started(tmp_path),
        tuner_started(100.0),
        TunerFinished("random", FINISHED, 3.0, time=103.0),
        StudyFinished(FINISHED, 3.5, time=104.0),
    ]
    with pytest.raises(RunDirError, match="the run is finished.*--extend N"):
        plan_resume(write_run(tmp_path / "run", events))


def test_plan_extend_raises_budget(tmp_path: Path) -> None:
    events = [
        study_started(tmp_path),
        tuner_started(100.0, max_trials=6),
        TunerFinished("random", FINISHED, 3.0, time=103.0),
        StudyFinished(FINISHED, 3.5, time=104.0),
    ]
    plan = plan_resume(write_run(tmp_path / "run", events), extend=2)
    assert plan.experiment.tuners[0].max_trials == 8
    assert not plan.skips("random")


def test_plan_cancelled_trial_not_interrupted(tmp_path: Path) -> None:
    events = [
        study_started(tmp_path),
        tuner_started(100.0),
        trial(TrialStarted, "0", 1, 101.0),
        trial(TrialFinished, "0", 1, 102.0, status=CANCELLED),
        TunerFinished("random", "stopped", 2.0, time=102.5),
        StudyFinished("stopped", 2.5, time=103.0),
    ]
    plan = plan_resume(write_run(tmp_path / "run", events))
    history = plan.tuners["random"]
    assert history.interruptions == {}
    assert history.ended == set()


def test_plan_rejects_changed_space(tmp_path: Path) -> None:
    events = [study_started(tmp_path), tuner_started(100.0)]
    changed = experiment_text("random").replace("max = 1e-2", "max = 1e-1")
    with pytest.raises(RunDirError, match=r"space: learning_rate\.max changed from 0\.01 to 0\.1"):
        plan_resume(write_run(tmp_path / "run", events, config=changed))


# -- the journal -----------------------------------------------------------------


def test_journal_flushes_each_event(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    journal(trial(TrialStarted, "0", 1, 1.0))
    # Read through another file handle while the journal is still open.
    assert len(path.read_text().splitlines()) == 1
    journal(EpochEnded("random", "0", 1, 1, {"loss": 1.0}))
    assert len(path.read_text().splitlines()) == 2
    journal.close()


def test_journal_fsyncs_trial_ends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    journal = Journal(tmp_path / "journal.jsonl")
    journal(trial(TrialStarted, "0", 1, 1.0))
    journal(EpochEnded("random", "0", 1, 1, {"loss": 1.0}))
    assert synced == []
    journal(trial(TrialFinished, "0", 1, 2.0))
    assert len(synced) == 1
    journal(TunerFinished("random", FINISHED, 2.0))
    assert len(synced) == 2
    journal(StudyFinished(FINISHED, 2.0))
    assert len(synced) == 3
    journal.close()


def test_journal_drops_torn_tail_on_open(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    first = trial(TrialFinished, "0", 1, 1.0)
    journal = Journal(path)
    journal(first)
    journal.close()
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('{"event": "trial_finished", "tuner": "ran')

    second = trial(TrialFinished, "1", 2, 2.0)
    journal = Journal(path)
    journal(second)
    journal.close()
    assert read_journal(path) == [first, second]


if __name__ == "__main__":
    serve()
