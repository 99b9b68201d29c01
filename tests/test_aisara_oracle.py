"""AiSaraOracle under Keras Tuner: rounds, exploration, IDLE, budget, state.

Most tests drive the oracle with a `keras_tuner.Tuner` whose `run_trial`
returns a synthetic objective, so no model is trained. One slow test runs a
real two-round search on a subset of scikit-learn's digits.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import keras_tuner
import pytest
from keras_tuner.engine.trial import TrialStatus

from tunescope.core.events import RoundFinished
from tunescope.core.space import HyperParameter, SearchSpace
from tunescope.core.tuners.aisara import AiSaraOracle

SPACE = SearchSpace(
    (
        HyperParameter("num_layers", "int", 2, 10),
        HyperParameter("dropout", "float", 0.0, 0.5),
        HyperParameter("learning_rate", "log", 1e-4, 1e-2),
    )
)
OBJECTIVE = keras_tuner.Objective("val_accuracy", "max")


def synthetic_accuracy(values: dict[str, Any]) -> float:
    return (
        0.93
        - 0.01 * abs(values["num_layers"] - 5)
        - 0.05 * (math.log10(values["learning_rate"]) + 3.5) ** 2
        - 0.1 * values["dropout"]
    )


def synthetic_metrics(values: dict[str, Any]) -> dict[str, float]:
    accuracy = synthetic_accuracy(values)
    return {"val_accuracy": accuracy, "val_loss": 1.0 - accuracy}


class SyntheticTuner(keras_tuner.Tuner):
    """Returns synthetic metrics instead of training; fails its first `fail_first` trials."""

    fail_first = 0
    runs = 0

    def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> dict[str, float]:
        self.runs += 1
        if self.runs <= self.fail_first:
            raise keras_tuner.errors.FailedTrialError("synthetic failure")
        return synthetic_metrics(trial.hyperparameters.values)


def make_oracle(**settings: Any) -> AiSaraOracle:
    options: dict[str, Any] = {"trials_per_round": 3, "rounds": 2, "seed": 7}
    options.update(settings)
    return AiSaraOracle(OBJECTIVE, SPACE, **options)


def search(oracle: AiSaraOracle, directory: Path, fail_first: int = 0) -> SyntheticTuner:
    tuner = SyntheticTuner(oracle, directory=str(directory), project_name="aisara")
    tuner.fail_first = fail_first
    tuner.search(verbose=0)
    return tuner


def finish(oracle: AiSaraOracle, trial: Any) -> None:
    """End a trial created by `create_trial` as a worker would, with synthetic metrics."""
    oracle.update_trial(trial.trial_id, synthetic_metrics(trial.hyperparameters.values))
    trial.status = TrialStatus.COMPLETED
    oracle.end_trial(trial)


def inside(values: dict[str, Any], bounds: dict[str, list[float]]) -> bool:
    return all(low <= values[name] <= high for name, (low, high) in bounds.items())


def without_time(events: list[RoundFinished]) -> list[dict[str, Any]]:
    return [{k: v for k, v in event.to_dict().items() if k != "time"} for event in events]


# -- settings ----------------------------------------------------------------


def test_oracle_rejects_choice() -> None:
    space = SearchSpace((HyperParameter("act", "choice", values=("relu", "tanh")),))
    with pytest.raises(ValueError, match="choice"):
        AiSaraOracle(OBJECTIVE, space)


@pytest.mark.parametrize("rounds", [0, "forever", 2.5])
def test_oracle_rejects_bad_rounds(rounds: Any) -> None:
    with pytest.raises(ValueError, match="rounds"):
        AiSaraOracle(OBJECTIVE, SPACE, rounds=rounds)


def test_oracle_rejects_one_trial_per_round() -> None:
    with pytest.raises(ValueError, match="trials_per_round"):
        AiSaraOracle(OBJECTIVE, SPACE, trials_per_round=1)


def test_oracle_infers_tie_break_direction() -> None:
    assert make_oracle(tie_break="val_loss").tie_break_direction == "min"
    assert make_oracle(tie_break="val_accuracy").tie_break_direction == "max"


def test_oracle_seed_zero_kept() -> None:
    assert make_oracle(seed=0).method_seed == 0


# -- a whole search ------------------------------------------------------------


def test_search_runs_rounds_with_exploration(tmp_path: Path) -> None:
    events: list[RoundFinished] = []
    oracle = make_oracle(on_round=events.append)
    search(oracle, tmp_path)

    # Round 1: three Latin hypercube trials and one exploration trial. Round 2
    # is the last one, which trains no exploration trial.
    ids = sorted(oracle.trials)
    assert len(ids) == 7
    assert [oracle.trial_round(t) for t in ids] == [1, 1, 1, 1, 2, 2, 2]
    assert [oracle.is_exploration_trial(t) for t in ids] == [False, False, False, True, False, False, False]
    assert all(oracle.trials[t].status == TrialStatus.COMPLETED for t in ids)
    assert oracle.finished
    assert oracle.stop_reason == "all 2 rounds ran"

    assert [event.round for event in events] == [1, 2]
    assert events[0].exploration == oracle.trials[ids[3]].hyperparameters.values
    assert events[1].exploration is None
    assert events[1].bounds == events[0].next_bounds
    assert events[0].bounds == {"num_layers": [2, 10], "dropout": [0.0, 0.5], "learning_rate": [1e-4, 1e-2]}
    for trial_id in ids[4:]:
        assert inside(oracle.trials[trial_id].hyperparameters.values, events[0].next_bounds)


def test_search_event_fields(tmp_path: Path) -> None:
    events: list[RoundFinished] = []
    oracle = make_oracle(on_round=events.append)
    search(oracle, tmp_path)
    first = events[0]
    assert first.tuner == "aisara"
    assert set(first.impacts) == set(SPACE.names)
    assert sum(first.impacts.values()) == pytest.approx(1.0)
    assert inside(first.predicted_best, first.bounds)
    assert first.best_trial_id == max(
        (t for t in oracle.trials if oracle.trial_round(t) == 1), key=lambda t: oracle.trials[t].score
    )
    assert json.loads(json.dumps(first.to_dict()))["round"] == 1
    assert without_time(oracle.round_history) == without_time(events)


def test_search_repeatable_for_seed(tmp_path: Path) -> None:
    first_events: list[RoundFinished] = []
    second_events: list[RoundFinished] = []
    first = make_oracle(on_round=first_events.append)
    second = make_oracle(on_round=second_events.append)
    search(first, tmp_path / "first")
    search(second, tmp_path / "second")
    assert [t.hyperparameters.values for t in first.trials.values()] == [
        t.hyperparameters.values for t in second.trials.values()
    ]
    assert without_time(first_events) == without_time(second_events)


def test_search_min_objective(tmp_path: Path) -> None:
    events: list[RoundFinished] = []
    oracle = AiSaraOracle("val_loss", SPACE, trials_per_round=3, rounds=2, tie_break="val_accuracy",
                          seed=3, on_round=events.append)
    search(oracle, tmp_path)
    round_one = [t for t in oracle.trials if oracle.trial_round(t) == 1]
    assert events[0].best_trial_id == min(round_one, key=lambda t: oracle.trials[t].score)


def test_search_failed_trial_skipped(tmp_path: Path) -> None:
    events: list[RoundFinished] = []
    oracle = make_oracle(trials_per_round=4, on_round=events.append)
    search(oracle, tmp_path, fail_first=1)
    failed = sorted(oracle.trials)[0]
    assert oracle.trials[failed].status == TrialStatus.FAILED
    assert oracle.trial_round(failed) == 1
    assert [event.round for event in events] == [1, 2]
    assert events[0].best_trial_id != failed
    # The failed trial counts toward the trials, not toward the surrogate.
    assert len(oracle.trials) == 4 + 1 + 4


def test_search_stops_on_too_few_results(tmp_path: Path) -> None:
    events: list[RoundFinished] = []
    oracle = make_oracle(on_round=events.append)
    search(oracle, tmp_path, fail_first=2)
    assert len(oracle.trials) == 3
    assert oracle.stop_reason.startswith("round 1 completed 1 of its trials")
    assert len(events) == 1
    assert events[0].impacts == {}
    assert events[0].next_bounds == events[0].bounds
    assert not events[0].shrinking
    assert events[0].best_trial_id == sorted(oracle.trials)[2]


def test_search_stops_at_max_trials(tmp_path: Path) -> None:
    events: list[RoundFinished] = []
    oracle = make_oracle(rounds=3, max_trials=6, on_round=events.append)
    search(oracle, tmp_path)
    # Round 1 takes 3 + 1 trials; round 2 gets the 2 that are left and is
    # still concluded from them.
    assert len(oracle.trials) == 6
    assert [oracle.trial_round(t) for t in sorted(oracle.trials)] == [1, 1, 1, 1, 2, 2]
    assert [event.round for event in events] == [1, 2]
    assert oracle.stop_reason == "max_trials=6 reached"


def test_search_auto_stops(tmp_path: Path) -> None:
    events: list[RoundFinished] = []
    # Int ranges reach a single value within a few rounds, so "auto" ends fast.
    space = SearchSpace((HyperParameter("num_layers", "int", 2, 10), HyperParameter("units", "int", 1, 6)))

    class IntTuner(SyntheticTuner):
        def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> dict[str, float]:
            values = trial.hyperparameters.values
            accuracy = 0.9 - 0.01 * abs(values["num_layers"] - 5) - 0.02 * abs(values["units"] - 2)
            return {"val_accuracy": accuracy, "val_loss": 1.0 - accuracy}

    oracle = AiSaraOracle(OBJECTIVE, space, trials_per_round=3, rounds="auto", seed=1, on_round=events.append)
    IntTuner(oracle, directory=str(tmp_path), project_name="aisara").search(verbose=0)
    assert oracle.finished
    assert oracle.stop_reason in ("the bounds stopped shrinking", "every hyperparameter is fixed")
    assert len(events) >= 2
    last = events[-1]
    assert not last.shrinking or all(low == high for low, high in last.next_bounds.values())
    assert all(event.shrinking for event in events[:-1])
    assert len(oracle.trials) == 4 * len(events)


def test_on_round_error_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    def broken_sink(event: RoundFinished) -> None:
        raise OSError("disk full")

    oracle = make_oracle(on_round=broken_sink)
    with caplog.at_level(logging.ERROR, logger="tunescope.core.tuners.aisara"):
        search(oracle, tmp_path)
    assert len(oracle.trials) == 7
    assert "on_round callback failed on round 1" in caplog.text


# -- two tuners driving create_trial directly ------------------------------------


def test_worker_idle_while_round_runs(tmp_path: Path) -> None:
    oracle = make_oracle(trials_per_round=2)
    oracle._set_project_dir(str(tmp_path), "aisara")

    first = oracle.create_trial("tuner0")
    second = oracle.create_trial("tuner1")
    assert first.status == TrialStatus.RUNNING
    assert second.status == TrialStatus.RUNNING

    # Both points of round 1 are out: tuner0 waits until tuner1 ends.
    finish(oracle, first)
    assert oracle.create_trial("tuner0").status == TrialStatus.IDLE
    finish(oracle, second)

    # The exploration trial goes to one tuner; the other waits for it.
    exploration = oracle.create_trial("tuner0")
    assert exploration.status == TrialStatus.RUNNING
    assert oracle.is_exploration_trial(exploration.trial_id)
    assert oracle.trial_round(exploration.trial_id) == 1
    assert oracle.create_trial("tuner1").status == TrialStatus.IDLE
    finish(oracle, exploration)

    third = oracle.create_trial("tuner1")
    fourth = oracle.create_trial("tuner0")
    assert oracle.trial_round(third.trial_id) == 2
    assert oracle.trial_round(fourth.trial_id) == 2
    bounds = oracle.round_history[0].next_bounds
    assert inside(third.hyperparameters.values, bounds)
    assert inside(fourth.hyperparameters.values, bounds)

    finish(oracle, third)
    assert oracle.create_trial("tuner1").status == TrialStatus.IDLE
    finish(oracle, fourth)
    assert oracle.create_trial("tuner1").status == TrialStatus.STOPPED
    assert oracle.create_trial("tuner0").status == TrialStatus.STOPPED


def test_idle_request_creates_no_trial(tmp_path: Path) -> None:
    oracle = make_oracle(trials_per_round=2)
    oracle._set_project_dir(str(tmp_path), "aisara")
    first = oracle.create_trial("tuner0")
    oracle.create_trial("tuner1")
    finish(oracle, first)
    oracle.create_trial("tuner0")
    assert len(oracle.trials) == 2


# -- state --------------------------------------------------------------------------


def test_state_json_round_trip(tmp_path: Path) -> None:
    oracle = make_oracle()
    oracle._set_project_dir(str(tmp_path), "aisara")
    finish(oracle, oracle.create_trial("tuner0"))
    oracle.create_trial("tuner0")
    state = json.loads(json.dumps(oracle.get_state()))

    copy = make_oracle()
    copy.trials = oracle.trials
    copy.set_state(state)
    assert comparable(copy.get_state()) == comparable(oracle.get_state())
    assert copy.current_bounds == oracle.current_bounds


def comparable(state: dict) -> dict:
    """Return `state` with Keras Tuner's `tried_so_far` sorted.

    Keras Tuner keeps it as a set of hashes and writes it as a list, whose
    order follows string hashing and so changes between processes.
    """
    return {**state, "tried_so_far": sorted(state["tried_so_far"])}


def test_reloaded_oracle_resumes_mid_round(tmp_path: Path) -> None:
    # An uninterrupted search, to compare against.
    expected: list[RoundFinished] = []
    search(make_oracle(on_round=expected.append), tmp_path / "whole")

    # The same search, stopped with round 1's second trial still running.
    oracle = make_oracle()
    oracle._set_project_dir(str(tmp_path / "resumed"), "aisara")
    finish(oracle, oracle.create_trial("tuner0"))
    running = oracle.create_trial("tuner0")
    assert oracle.trial_round(running.trial_id) == 1

    resumed_events: list[RoundFinished] = []
    reloaded = make_oracle(on_round=resumed_events.append)
    reloaded._set_project_dir(str(tmp_path / "resumed"), "aisara")
    reloaded.reload()
    assert reloaded.trial_round(running.trial_id) == 1
    assert reloaded.current_round == 1

    # Keras Tuner hands the interrupted trial out again first.
    retried = reloaded.create_trial("tuner0")
    assert retried.trial_id == running.trial_id
    assert retried.hyperparameters.values == running.hyperparameters.values
    finish(reloaded, retried)
    while True:
        trial = reloaded.create_trial("tuner0")
        if trial.status == TrialStatus.STOPPED:
            break
        finish(reloaded, trial)

    assert len(reloaded.trials) == 7
    assert without_time(resumed_events) == without_time(expected)


# -- real training --------------------------------------------------------------------


@pytest.mark.slow
def test_digits_two_round_search(tmp_path: Path) -> None:
    import keras
    import numpy as np
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data[:300] / 16.0).astype("float32")
    y = digits.target[:300]
    x_train, y_train, x_val, y_val = x[:240], y[:240], x[240:], y[240:]

    space = SearchSpace(
        (
            HyperParameter("num_layers", "int", 1, 2),
            HyperParameter("units", "int", 8, 32, step=8),
            HyperParameter("learning_rate", "log", 1e-3, 1e-1),
        )
    )

    def build_model(hp: keras_tuner.HyperParameters) -> keras.Model:
        model = keras.Sequential([keras.Input((64,))])
        for _ in range(hp.get("num_layers")):
            model.add(keras.layers.Dense(hp.get("units"), activation="relu"))
        model.add(keras.layers.Dense(10, activation="softmax"))
        model.compile(
            optimizer=keras.optimizers.Adam(hp.get("learning_rate")),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model

    events: list[RoundFinished] = []
    oracle = AiSaraOracle("val_accuracy", space, trials_per_round=3, rounds=2, seed=42, on_round=events.append)
    tuner = keras_tuner.Tuner(oracle, hypermodel=build_model, directory=str(tmp_path), project_name="digits")
    tuner.search(x_train, y_train, validation_data=(x_val, y_val), epochs=1, batch_size=32, verbose=0)

    assert len(oracle.trials) == 7
    assert all(t.status == TrialStatus.COMPLETED for t in oracle.trials.values())
    assert [event.round for event in events] == [1, 2]
    best = oracle.get_best_trials()[0]
    # Ten classes: chance is 0.1, and one epoch of any of these models beats it.
    assert best.score > 0.2
    assert np.isfinite(events[0].impacts["learning_rate"])
