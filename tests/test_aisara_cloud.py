"""The aisara-cloud tuner against a fake AiSara service on 127.0.0.1.

Every test that reaches the adapter's network code blocks all sockets except
those to 127.0.0.1, so nothing here can reach the real service.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import socket
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from tunescope.core.config import Experiment, TrainingConfig, parse_experiment
from tunescope.core.errors import TunescopeError
from tunescope.core.events import (
    COMPLETED,
    FAILED,
    EpochEnded,
    Event,
    RoundFinished,
    TrialFinished,
    TrialStarted,
)
from tunescope.core.tuners import aisara_cloud, aisara_cloud_service
from tunescope.core.tuners.aisara_cloud import CloudResult, run_cloud_search

from fake_aisara_service import FakeAisaraService

KEY = "user-key-5d1c0e7a9b"
KEY_ENV = "TUNESCOPE_TEST_AISARA_KEY"
LOGGER_NAME = "tunescope.core.tuners.aisara_cloud"


def experiment_text(
    trials_per_round: int = 3, rounds: int = 2, max_trials: int = 20, tie_break: str = "val_loss"
) -> str:
    return f"""
[experiment]
name = "cloud-test"
seed = 1
max_consecutive_failures = 2

[dataset]
name = "digits"

[model]
family = "dnn"

[budget]
epochs = 1
batch_size = 32

[[space]]
name = "nodes_dense"
type = "int"
min = 8
max = 32

[[space]]
name = "learning_rate"
type = "log"
min = 1e-3
max = 1e-1

[[space]]
name = "dropout"
type = "float"
min = 0.05
max = 0.3

[[tuners]]
type = "aisara-cloud"
name = "cloud"
max_trials = {max_trials}
trials_per_round = {trials_per_round}
rounds = {rounds}
tie_break = "{tie_break}"
api_key_env = "{KEY_ENV}"
"""


def make_experiment(**kwargs: Any) -> Experiment:
    return parse_experiment(experiment_text(**kwargs), source="cloud-test.toml")


@dataclass
class TinyDigits:
    """The Dataset fields the adapter reads, from 200 scikit-learn digits."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    num_classes: int = 10

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])


def tiny_digits() -> TinyDigits:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x[:200] / 16.0).astype("float32").reshape(-1, 8, 8, 1)
    y = y[:200].astype("int64")
    return TinyDigits(x[:150], y[:150], x[150:], y[150:])


class TinyModels:
    """A one-hidden-layer dense net whose build calls numbered in `fail_calls` (from 1) raise."""

    def __init__(self, fail_calls: tuple[int, ...] = ()) -> None:
        self.fail_calls = fail_calls
        self.calls = 0
        self.search_paths: list[Path] = []
        self.trainings: list[Any] = []

    def build_model(
        self,
        values: Mapping[str, Any],
        model: Any,
        input_shape: tuple[int, ...],
        num_classes: int,
        search_paths: tuple[Path, ...] = (),
        training: Any = None,
    ) -> Any:
        import keras

        self.calls += 1
        self.search_paths.extend(search_paths)
        self.trainings.append(training)
        if self.calls in self.fail_calls:
            raise ValueError(f"build call {self.calls} fails on purpose")
        net = keras.Sequential(
            [
                keras.Input(input_shape),
                keras.layers.Flatten(),
                keras.layers.Dense(int(values["nodes_dense"]), activation="relu"),
                keras.layers.Dropout(float(values["dropout"])),
                keras.layers.Dense(num_classes, activation="softmax"),
            ]
        )
        net.compile(
            optimizer=keras.optimizers.Adam(float(values["learning_rate"])),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return net

    def fit_options(self, values: Mapping[str, Any], default_batch_size: int) -> dict[str, Any]:
        return {"batch_size": default_batch_size}

    def count_trainable_params(self, model: Any) -> int:
        return int(sum(np.prod(weight.shape) for weight in model.trainable_weights))


def allow_only_loopback(patcher: pytest.MonkeyPatch) -> list[Any]:
    """Make every socket connection to anything but 127.0.0.1 fail, and return the attempted addresses."""
    attempts: list[Any] = []
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> None:
        attempts.append(address)
        if not (isinstance(address, tuple) and address[0] == "127.0.0.1"):
            raise OSError(f"blocked by the test: connection to {address!r}")
        real_connect(self, address)

    patcher.setattr(socket.socket, "connect", connect)
    for variable in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        patcher.delenv(variable, raising=False)
    return attempts


@dataclass
class SearchRun:
    result: CloudResult | None = None
    error: BaseException | None = None
    events: list[Event] = field(default_factory=list)


def search_in_thread(
    experiment: Experiment,
    models: TinyModels,
    should_stop: Callable[[list[Event]], bool] = lambda events: False,
) -> SearchRun:
    """Run a search in a worker thread, as the study engine does."""
    run = SearchRun()

    def work() -> None:
        try:
            run.result = run_cloud_search(
                experiment.tuners[0],
                experiment,
                tiny_digits(),
                run.events.append,
                lambda: should_stop(run.events),
                models=models,
                request_timeout=30.0,
            )
        except BaseException as error:
            run.error = error

    worker = threading.Thread(target=work, name="cloud-search")
    worker.start()
    worker.join(timeout=300)
    assert not worker.is_alive(), "the search did not end within 300 s"
    return run


def of_type(events: list[Event], kind: type[Event]) -> list[Any]:
    return [event for event in events if isinstance(event, kind)]


def search_directly(experiment: Experiment, **kwargs: Any) -> CloudResult:
    """Run a search in the calling thread, with events dropped."""
    kwargs.setdefault("models", TinyModels())
    dataset = tiny_digits()
    return run_cloud_search(experiment.tuners[0], experiment, dataset, lambda event: None, lambda: False, **kwargs)


# -- configuration errors, before any request ------------------------------------


def test_missing_key_env_raises_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    experiment = make_experiment()

    with pytest.raises(TunescopeError) as caught:
        run_cloud_search(experiment.tuners[0], experiment, None, lambda event: None, lambda: False)

    message = str(caught.value)
    assert KEY_ENV in message
    assert "not set" in message
    assert "\n" not in message
    assert caught.value.exit_status == 2


def test_empty_key_env_raises_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "   ")
    experiment = make_experiment()

    with pytest.raises(TunescopeError, match=KEY_ENV) as caught:
        run_cloud_search(experiment.tuners[0], experiment, None, lambda event: None, lambda: False)

    assert "\n" not in str(caught.value)


def test_invalid_service_url_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    monkeypatch.setenv(aisara_cloud_service.SERVICE_URL_ENV, "ftp://127.0.0.1/aisara")
    experiment = make_experiment()

    with pytest.raises(TunescopeError, match=aisara_cloud_service.SERVICE_URL_ENV) as caught:
        run_cloud_search(experiment.tuners[0], experiment, None, lambda event: None, lambda: False)

    assert KEY not in str(caught.value)


def test_tie_break_equal_to_objective_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    experiment = make_experiment(tie_break="val_accuracy")

    with pytest.raises(TunescopeError, match="tie_break"):
        run_cloud_search(experiment.tuners[0], experiment, None, lambda event: None, lambda: False)


# -- helpers, without TensorFlow ----------------------------------------------------


def make_session(base_url: str) -> Any:
    return aisara_cloud_service.ServiceSession("cloud", base_url, KEY, KEY_ENV, 5.0, lambda: False)


def test_redirect_replaces_scheme_and_host() -> None:
    session = make_session("http://127.0.0.1:8123")

    target = session.redirect(f"https://{aisara_cloud_service.SERVICE_HOST}/latin/uniform")

    assert target == "http://127.0.0.1:8123/latin/uniform"


def test_redirect_keeps_base_path() -> None:
    session = make_session("http://127.0.0.1:8123/aisara")

    target = session.redirect(f"https://{aisara_cloud_service.SERVICE_HOST}/grid/general_pred")

    assert target == "http://127.0.0.1:8123/aisara/grid/general_pred"


def test_redirect_rejects_other_host() -> None:
    session = make_session("http://127.0.0.1:8123")

    with pytest.raises(TunescopeError, match="unknown host"):
        session.redirect("https://example.org/latin/uniform")


def test_conform_clamps_and_snaps() -> None:
    space = make_experiment().space

    values, problem = aisara_cloud._conform(
        space.parameters, {"nodes_dense": 40.4, "learning_rate": 3.0, "dropout": 0.1}
    )

    assert values == {"nodes_dense": 32, "learning_rate": 0.1, "dropout": 0.1}
    assert problem == ""


def test_conform_reports_nan() -> None:
    space = make_experiment().space

    values, problem = aisara_cloud._conform(
        space.parameters, {"nodes_dense": 16, "learning_rate": 0.01, "dropout": float("nan")}
    )

    assert values["dropout"] is None
    assert "dropout" in problem


def test_bounds_in_units_sorts_log_exponents() -> None:
    hps = SimpleNamespace(
        hps_dict_num={"learning_rate": [-2.4, -3.6], "nodes_dense": [8, 32]}, num_log=["learning_rate"]
    )

    bounds = aisara_cloud._bounds_in_units(hps)

    assert bounds["learning_rate"] == pytest.approx([10**-3.6, 10**-2.4])
    assert bounds["nodes_dense"] == [8.0, 32.0]


def test_thread_output_splits_by_thread(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER_NAME)
    passthrough = io.StringIO()
    output = aisara_cloud._ThreadOutputToLog(passthrough, threading.get_ident(), KEY)

    output.write(f"\x1b[1mRound-1:\x1b[0m key {KEY}\n")
    other = threading.Thread(target=output.write, args=("from another thread\n",))
    other.start()
    other.join()

    assert passthrough.getvalue() == "from another thread\n"
    assert "aisaratuners: Round-1: key ***" in caplog.text
    assert KEY not in caplog.text


# -- service failures, before any training --------------------------------------------


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    monkeypatch.setenv(KEY_ENV, KEY)
    return allow_only_loopback(monkeypatch)


def test_rejected_key_names_variable_not_key(
    loopback_only: list[Any], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    experiment = make_experiment()

    with FakeAisaraService(accepted_key="someone-else's-key") as service:
        monkeypatch.setenv(aisara_cloud_service.SERVICE_URL_ENV, service.url)
        with pytest.raises(TunescopeError) as caught:
            search_directly(experiment)

    message = str(caught.value)
    assert "rejected the API key" in message
    assert KEY_ENV in message
    assert KEY not in message
    assert "\n" not in message
    assert KEY not in caplog.text


def test_rejected_key_request_carries_user_key(loopback_only: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    experiment = make_experiment()

    with FakeAisaraService(accepted_key="someone-else's-key") as service:
        monkeypatch.setenv(aisara_cloud_service.SERVICE_URL_ENV, service.url)
        with pytest.raises(TunescopeError):
            search_directly(experiment)

    assert len(service.requests) == 1
    assert service.requests[0].headers["x-rapidapi-key"] == KEY


def test_rejected_key_restores_process_state(loopback_only: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    import requests
    from aisaratuners import aisara_keras_tuner

    experiment = make_experiment()
    before = os.getcwd()

    with FakeAisaraService(accepted_key="someone-else's-key") as service:
        monkeypatch.setenv(aisara_cloud_service.SERVICE_URL_ENV, service.url)
        with pytest.raises(TunescopeError):
            search_directly(experiment)

    assert os.getcwd() == before
    assert aisara_keras_tuner.requests is requests
    assert not isinstance(sys.stdout, aisara_cloud._ThreadOutputToLog)


def test_unreachable_service_raises_one_line(loopback_only: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{closed.getsockname()[1]}"
    closed.close()
    monkeypatch.setenv(aisara_cloud_service.SERVICE_URL_ENV, url)
    experiment = make_experiment()

    with pytest.raises(TunescopeError) as caught:
        search_directly(experiment)

    message = str(caught.value)
    assert "unreachable" in message
    assert url in message
    assert 'type = "aisara"' in message
    assert "\n" not in message


def test_silent_service_times_out(loopback_only: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    # A listening socket that never accepts, so the connection succeeds and no response comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        monkeypatch.setenv(aisara_cloud_service.SERVICE_URL_ENV, f"http://127.0.0.1:{silent.getsockname()[1]}")
        experiment = make_experiment()

        with pytest.raises(TunescopeError) as caught:
            search_directly(experiment, request_timeout=0.5)

    assert "did not respond within 0.5 s" in str(caught.value)


def test_server_error_raises_unexpected_response(loopback_only: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    experiment = make_experiment()

    with FakeAisaraService(accepted_key=KEY, failures={"/latin/uniform": 500}) as service:
        monkeypatch.setenv(aisara_cloud_service.SERVICE_URL_ENV, service.url)
        with pytest.raises(TunescopeError) as caught:
            search_directly(experiment)

    message = str(caught.value)
    assert "unexpected response" in message
    assert "HTTP 500" in message
    assert "/latin/uniform" in message


def test_first_trial_failing_ends_search(loopback_only: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    experiment = make_experiment()
    events: list[Event] = []

    with FakeAisaraService(accepted_key=KEY) as service:
        monkeypatch.setenv(aisara_cloud_service.SERVICE_URL_ENV, service.url)
        with pytest.raises(TunescopeError, match="failed before any trial completed"):
            run_cloud_search(
                experiment.tuners[0],
                experiment,
                tiny_digits(),
                events.append,
                lambda: False,
                models=TinyModels(fail_calls=(1,)),
            )

    finished = of_type(events, TrialFinished)
    assert [event.status for event in finished] == [FAILED]
    assert "fails on purpose" in finished[0].reason


# -- a whole search, trained with Keras ------------------------------------------------


@dataclass
class CloudRun:
    """Everything one search in a worker thread left behind."""

    run: SearchRun
    models: TinyModels
    service: FakeAisaraService
    attempts: list[Any]
    log_text: str
    stdout_text: str
    cwd_before: str
    cwd_after: str
    user_dir: Path
    workdirs: list[str]


@pytest.fixture(scope="module")
def cloud_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudRun]:
    """Two rounds of three trials against the fake, from a directory with a ./models file.

    NumPy scalars print as in NumPy 1.x in the search thread; see
    `test_numpy2_payload_fails_between_rounds` for what happens otherwise.
    """
    user_dir = tmp_path_factory.mktemp("user")
    (user_dir / "models").mkdir()
    (user_dir / "models" / "keep.txt").write_text("mine")

    records = io.StringIO()
    handler = logging.StreamHandler(records)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    handler.setLevel(logging.DEBUG)
    tunescope_logger = logging.getLogger("tunescope")
    old_level = tunescope_logger.level
    logging.getLogger().addHandler(handler)
    tunescope_logger.setLevel(logging.DEBUG)

    workdirs: list[str] = []
    real_mkdtemp = tempfile.mkdtemp

    def recording_mkdtemp(*args: Any, **kwargs: Any) -> str:
        path = real_mkdtemp(*args, **kwargs)
        workdirs.append(path)
        return path

    stdout = io.StringIO()
    try:
        with pytest.MonkeyPatch.context() as patcher, FakeAisaraService(accepted_key=KEY) as service:
            attempts = allow_only_loopback(patcher)
            patcher.setenv(KEY_ENV, KEY)
            patcher.setenv(aisara_cloud_service.SERVICE_URL_ENV, service.url)
            patcher.setattr(tempfile, "mkdtemp", recording_mkdtemp)
            patcher.chdir(user_dir)
            cwd_before = os.getcwd()
            models = TinyModels()
            with contextlib.redirect_stdout(stdout):
                run = search_in_thread(make_experiment(trials_per_round=3, rounds=2), models)
            cwd_after = os.getcwd()
    finally:
        logging.getLogger().removeHandler(handler)
        tunescope_logger.setLevel(old_level)

    yield CloudRun(
        run, models, service, attempts, records.getvalue(), stdout.getvalue(), cwd_before, cwd_after, user_dir, workdirs
    )


@pytest.mark.slow
def test_search_finishes_without_error(cloud_run: CloudRun) -> None:
    assert cloud_run.run.error is None
    assert cloud_run.run.result is not None


@pytest.mark.slow
def test_search_runs_trials_of_both_rounds(cloud_run: CloudRun) -> None:
    started = of_type(cloud_run.run.events, TrialStarted)
    finished = of_type(cloud_run.run.events, TrialFinished)

    # Two rounds of three trials, and one exploration trial between them.
    assert [event.trial_id for event in started] == ["r1-t1", "r1-t2", "r1-t3", "r1-x", "r2-t1", "r2-t2", "r2-t3"]
    assert [event.trial_id for event in finished] == [event.trial_id for event in started]
    assert [event.number for event in finished] == list(range(1, 8))
    assert {event.status for event in finished} == {COMPLETED}


@pytest.mark.slow
def test_search_emits_epoch_metrics(cloud_run: CloudRun) -> None:
    epochs = of_type(cloud_run.run.events, EpochEnded)

    assert len(epochs) == 7
    assert {"accuracy", "loss", "val_accuracy", "val_loss"} <= set(epochs[0].metrics)


@pytest.mark.slow
def test_search_trial_records_best_epoch(cloud_run: CloudRun) -> None:
    finished = of_type(cloud_run.run.events, TrialFinished)

    for event in finished:
        assert event.objective == event.metrics["val_accuracy"]
        assert event.epochs == 1
        assert event.fit_seconds > 0
        assert event.trainable_params > 0


@pytest.mark.slow
def test_search_values_stay_in_space(cloud_run: CloudRun) -> None:
    space = make_experiment().space

    for event in of_type(cloud_run.run.events, TrialStarted):
        for parameter in space:
            assert parameter.contains(event.hyperparameters[parameter.name]), (event.trial_id, parameter.name)


@pytest.mark.slow
def test_search_emits_round_per_round(cloud_run: CloudRun) -> None:
    rounds = of_type(cloud_run.run.events, RoundFinished)

    assert [event.round for event in rounds] == [1, 2]
    first = rounds[0]
    assert set(first.bounds) == {"nodes_dense", "learning_rate", "dropout"}
    assert first.bounds["nodes_dense"] == [8.0, 32.0]
    assert first.impacts
    assert set(first.predicted_best) <= set(first.bounds)
    assert first.exploration is not None
    assert first.best_trial_id in {"r1-t1", "r1-t2", "r1-t3", "r1-x"}


@pytest.mark.slow
def test_search_second_round_uses_new_bounds(cloud_run: CloudRun) -> None:
    first, second = of_type(cloud_run.run.events, RoundFinished)

    assert second.bounds == first.next_bounds
    assert second.exploration is None


@pytest.mark.slow
def test_search_result_is_best_trial(cloud_run: CloudRun) -> None:
    result = cloud_run.run.result
    finished = of_type(cloud_run.run.events, TrialFinished)
    best = max(event.objective for event in finished)

    assert result.best_objective == best
    assert result.trials_completed == 7
    assert result.trials_failed == 0
    assert result.best_trial_id in {event.trial_id for event in finished if event.objective == best}
    assert result.best_model is not None
    assert result.trainable_params == TinyModels().count_trainable_params(result.best_model)


@pytest.mark.slow
def test_search_sends_user_key(cloud_run: CloudRun) -> None:
    keys = {request.headers.get("x-rapidapi-key") for request in cloud_run.service.requests}

    assert len(cloud_run.service.requests) > 7
    assert keys == {KEY}


@pytest.mark.slow
def test_search_connects_only_to_fake(cloud_run: CloudRun) -> None:
    assert cloud_run.attempts
    assert set(cloud_run.attempts) == {cloud_run.service.address}


@pytest.mark.slow
def test_search_keeps_key_out_of_events(cloud_run: CloudRun) -> None:
    for event in cloud_run.run.events:
        assert KEY not in json.dumps(event.to_dict(), default=str)


@pytest.mark.slow
def test_search_keeps_key_out_of_logs(cloud_run: CloudRun) -> None:
    assert "aisaratuners: Round-1" in cloud_run.log_text
    assert KEY not in cloud_run.log_text


@pytest.mark.slow
def test_search_hides_package_output(cloud_run: CloudRun) -> None:
    assert "Round-1" not in cloud_run.stdout_text


@pytest.mark.slow
def test_search_keeps_user_models_folder(cloud_run: CloudRun) -> None:
    assert (cloud_run.user_dir / "models" / "keep.txt").read_text() == "mine"


@pytest.mark.slow
def test_search_builds_models_with_user_dir(cloud_run: CloudRun) -> None:
    # A custom model module next to the user must stay importable while the
    # working directory is the temporary one.
    assert cloud_run.models.search_paths
    assert set(cloud_run.models.search_paths) == {cloud_run.user_dir.resolve()}


@pytest.mark.slow
def test_search_restores_cwd(cloud_run: CloudRun) -> None:
    assert cloud_run.cwd_after == cloud_run.cwd_before


@pytest.mark.slow
def test_search_removes_its_workdir(cloud_run: CloudRun) -> None:
    assert len(cloud_run.workdirs) == 1
    assert not os.path.exists(cloud_run.workdirs[0])


@pytest.mark.slow
def test_stop_request_ends_search(loopback_only: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    def stop_after_first_trial(events: list[Event]) -> bool:
        return bool(of_type(events, TrialFinished))

    with FakeAisaraService(accepted_key=KEY) as service:
        monkeypatch.setenv(aisara_cloud_service.SERVICE_URL_ENV, service.url)
        run = search_in_thread(make_experiment(), TinyModels(), should_stop=stop_after_first_trial)

    assert run.error is None
    assert len(of_type(run.events, TrialStarted)) == 1
    assert run.result.trials_completed == 1
    assert of_type(run.events, RoundFinished) == []


@pytest.mark.slow
def test_max_trials_caps_search(loopback_only: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeAisaraService(accepted_key=KEY) as service:
        monkeypatch.setenv(aisara_cloud_service.SERVICE_URL_ENV, service.url)
        experiment = make_experiment(trials_per_round=2, rounds=3, max_trials=3)
        run = search_in_thread(experiment, TinyModels())

    assert run.error is None
    assert [event.trial_id for event in of_type(run.events, TrialFinished)] == ["r1-t1", "r1-t2", "r1-x"]
    rounds = of_type(run.events, RoundFinished)
    assert [event.round for event in rounds] == [1]
    assert rounds[0].predicted_best == {}


@pytest.mark.slow
def test_failed_trial_continues_search(loopback_only: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeAisaraService(accepted_key=KEY) as service:
        monkeypatch.setenv(aisara_cloud_service.SERVICE_URL_ENV, service.url)
        run = search_in_thread(make_experiment(trials_per_round=3, rounds=1), TinyModels(fail_calls=(2,)))

    assert run.error is None
    statuses = [event.status for event in of_type(run.events, TrialFinished)]
    assert statuses == [COMPLETED, FAILED, COMPLETED]
    assert "fails on purpose" in of_type(run.events, TrialFinished)[1].reason
    assert run.result.trials_failed == 1
    assert run.result.trials_completed == 2


@pytest.mark.slow
def test_rounds_send_plain_numbers(loopback_only: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    # Under NumPy 2, aisaratuners' str() of NumPy scalars would send
    # "np.float64(18.0)"; the adapter's print options keep them plain.
    with FakeAisaraService(accepted_key=KEY) as service:
        monkeypatch.setenv(aisara_cloud_service.SERVICE_URL_ENV, service.url)
        run = search_in_thread(make_experiment(trials_per_round=2, rounds=2), TinyModels())

    fits = [request for request in service.requests if request.path == "/developer/dfit"]
    assert run.error is None
    assert fits
    assert "np.float64(" not in fits[0].body["params"]["train_x"]
    assert len(of_type(run.events, TrialFinished)) >= 3


CUSTOM_MODULE = '''
import keras


def build(values, input_shape, num_classes):
    net = keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Flatten(),
            keras.layers.Dense(int(values["nodes_dense"]), activation="relu"),
            keras.layers.Dense(num_classes, activation="softmax"),
        ]
    )
    net.compile(
        optimizer=keras.optimizers.Adam(float(values["learning_rate"])),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return net
'''


@pytest.mark.slow
def test_custom_model_found_in_user_dir(
    loopback_only: list[Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # core.models looks for a custom module in the current directory, which
    # is the temporary one while the package runs.
    (tmp_path / "cloud_custom_model.py").write_text(CUSTOM_MODULE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "cloud_custom_model", raising=False)
    text = experiment_text(trials_per_round=2, rounds=1).replace(
        'family = "dnn"', 'family = "custom"\nfunction = "cloud_custom_model:build"'
    )
    experiment = parse_experiment(text, source=str(tmp_path / "cloud-test.toml"))
    events: list[Event] = []

    with FakeAisaraService(accepted_key=KEY) as service:
        monkeypatch.setenv(aisara_cloud_service.SERVICE_URL_ENV, service.url)
        result = run_cloud_search(experiment.tuners[0], experiment, tiny_digits(), events.append, lambda: False)

    assert [event.status for event in of_type(events, TrialFinished)] == [COMPLETED, COMPLETED]
    assert result.trials_completed == 2


@pytest.mark.slow
def test_search_builds_models_with_training_settings(cloud_run: CloudRun) -> None:
    assert cloud_run.models.trainings
    assert all(isinstance(training, TrainingConfig) for training in cloud_run.models.trainings)
