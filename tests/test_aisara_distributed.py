"""AiSaraOracle in Keras Tuner's chief/worker mode, on 127.0.0.1.

The test starts one chief and two workers as subprocesses of this same file
(see `main` below). They talk gRPC through the `KERASTUNER_*` environment
variables, and the workers' `run_trial` returns synthetic metrics after a
short sleep, so both workers hold trials at the same time. Every wait has a
timeout, and the processes are killed when the test ends either way.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

HOST = "127.0.0.1"
WORKERS = ("tuner0", "tuner1")
TRIALS_PER_ROUND = 3
ROUNDS = 2

# Importing TensorFlow takes several seconds per process on 2 cores, and the
# chief polls for the end of the search every 20 seconds once it began to stop.
PROCESS_TIMEOUT = 240
BARRIER_TIMEOUT = 120
TRIAL_SECONDS = 0.3


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def start(role: str, workdir: Path, port: int) -> subprocess.Popen:
    env = dict(os.environ)
    env.update(
        KERASTUNER_TUNER_ID=role,
        KERASTUNER_ORACLE_IP=HOST,
        KERASTUNER_ORACLE_PORT=str(port),
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    log = open(workdir / f"{role}.log", "w")
    return subprocess.Popen(
        [sys.executable, __file__, role, str(workdir)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def read_log(workdir: Path, role: str) -> str:
    path = workdir / f"{role}.log"
    return path.read_text()[-3000:] if path.exists() else ""


@pytest.mark.slow
def test_chief_and_two_workers(tmp_path: Path) -> None:
    port = free_port()
    chief = start("chief", tmp_path, port)
    workers = [start(name, tmp_path, port) for name in WORKERS]
    processes = [chief, *workers]
    try:
        deadline = time.monotonic() + PROCESS_TIMEOUT
        for process, role in zip(processes[::-1], [*WORKERS[::-1], "chief"]):
            remaining = max(deadline - time.monotonic(), 1)
            try:
                code = process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                pytest.fail(f"{role} did not finish within {PROCESS_TIMEOUT} s:\n{read_log(tmp_path, role)}")
            assert code == 0, f"{role} exited with {code}:\n{read_log(tmp_path, role)}"
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)

    summary = json.loads((tmp_path / "chief.json").read_text())
    ran = {name: (tmp_path / f"{name}.trials").read_text().split() for name in WORKERS}
    all_runs = ran["tuner0"] + ran["tuner1"]
    trials = summary["trials"]

    # Every trial ran exactly once, and each worker ran some.
    assert sorted(all_runs) == sorted(trials)
    assert len(set(all_runs)) == len(all_runs)
    assert ran["tuner0"]
    assert ran["tuner1"]
    assert all(trial["status"] == "COMPLETED" for trial in trials.values())

    # Round 1: 3 Latin hypercube trials and 1 exploration trial; round 2: 3 trials.
    rounds = [trials[trial_id]["round"] for trial_id in sorted(trials)]
    assert rounds == [1] * (TRIALS_PER_ROUND + 1) + [2] * TRIALS_PER_ROUND
    assert sum(trial["exploration"] for trial in trials.values()) == 1
    events = summary["events"]
    assert [event["round"] for event in events] == [1, 2]
    assert events[1]["bounds"] == events[0]["next_bounds"]
    for trial in trials.values():
        if trial["round"] == 2:
            for name, (low, high) in events[0]["next_bounds"].items():
                assert low <= trial["values"][name] <= high
    assert summary["stop_reason"] == "all 2 rounds ran"


# -- the processes ----------------------------------------------------------------


def synthetic_metrics(values: dict[str, Any]) -> dict[str, float]:
    accuracy = 0.93 - 0.01 * abs(values["num_layers"] - 5) - 0.05 * (math.log10(values["learning_rate"]) + 3.5) ** 2
    return {"val_accuracy": accuracy, "val_loss": 1.0 - accuracy}


def wait_for_other_workers(workdir: Path, name: str) -> None:
    """Wait until every worker is up, so that both ask for round 1's trials."""
    (workdir / f"{name}.ready").touch()
    deadline = time.monotonic() + BARRIER_TIMEOUT
    while not all((workdir / f"{other}.ready").exists() for other in WORKERS):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name}: the other workers were not ready within {BARRIER_TIMEOUT} s")
        time.sleep(0.1)


def main(role: str, workdir: Path) -> None:
    import keras_tuner

    from tunescope.core.space import HyperParameter, SearchSpace
    from tunescope.core.tuners.aisara import AiSaraOracle

    class SyntheticTuner(keras_tuner.Tuner):
        def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> dict[str, float]:
            with open(workdir / f"{role}.trials", "a") as runs:
                runs.write(trial.trial_id + "\n")
            time.sleep(TRIAL_SECONDS)
            return synthetic_metrics(trial.hyperparameters.values)

    space = SearchSpace(
        (
            HyperParameter("num_layers", "int", 2, 10),
            HyperParameter("learning_rate", "log", 1e-4, 1e-2),
        )
    )
    events: list[dict[str, Any]] = []
    oracle = AiSaraOracle(
        keras_tuner.Objective("val_accuracy", "max"),
        space,
        trials_per_round=TRIALS_PER_ROUND,
        rounds=ROUNDS,
        seed=5,
        on_round=lambda event: events.append(event.to_dict()),
    )
    tuner = SyntheticTuner(oracle, directory=str(workdir), project_name="aisara")

    if role != "chief":
        wait_for_other_workers(workdir, role)
        tuner.search(verbose=0)
        return

    # The chief serves the oracle until every worker has received STOPPED.
    tuner.search(verbose=0)
    summary = {
        "trials": {
            trial_id: {
                "status": trial.status,
                "values": trial.hyperparameters.values,
                "round": oracle.trial_round(trial_id),
                "exploration": oracle.is_exploration_trial(trial_id),
            }
            for trial_id, trial in oracle.trials.items()
        },
        "events": events,
        "stop_reason": oracle.stop_reason,
    }
    (workdir / "chief.json").write_text(json.dumps(summary))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
