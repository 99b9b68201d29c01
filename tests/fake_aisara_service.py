"""A fake AiSara hyperparameter-tuning service on 127.0.0.1 for the aisara-cloud tests.

It serves the endpoints that aisaratuners 1.5.2 (`aisara_keras_tuner`)
requests, in the request and response shapes that package reads:

- POST /latin/uniform: {"subsection": n, name: [low, high], ...} ->
  {name: [n values]}, a Latin hypercube (scipy.stats.qmc) over the bounds;
- POST /developer/dfit: {"params": {"train_x", "train_y", "x_shape", ...}}
  -> {"result": model_id}, a stored surrogate;
- POST /developer/dpred: {"params": {"model_id", "test_x", "x_shape", ...}}
  -> {"result": [predictions], "impacts": [[impact], ...]};
- POST /grid/general_pred: {name: [grid values], ..., "x_train", "x_shape",
  "metric", "loss"} -> {"Impact": {name: share}, "Best combination":
  {name: [value], ..., "Prediction": [value]}};
- POST /grid/general: {name: [values], ...} -> every combination.

The surrogate predicts by inverse-distance weighting on range-scaled inputs,
and impacts are the normalised absolute coefficients of a linear least-squares
fit. A request whose X-RapidAPI-Key header is not the accepted key gets HTTP
403 with RapidAPI's "not subscribed" message (the text aisaratuners checks
for), or HTTP 401 when the header is missing. A field that does not parse,
such as the "np.float64(18.0), ..." lists aisaratuners 1.5.2 sends under
NumPy 2, gets HTTP 400. Every request is recorded.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
from scipy.stats import qmc

NOT_SUBSCRIBED = "You are not subscribed to this API."
INVALID_KEY = "Invalid API key. Go to https://docs.rapidapi.com/docs/keys for more info."

# Grid predictions evaluate at most this many points, drawn at random when
# the full grid is larger, so a request stays fast with many hyperparameters.
MAX_GRID_POINTS = 20_000


class UnknownEndpoint(LookupError):
    """A request path the service does not have."""


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class FakeAisaraService:
    """The fake service, served from a daemon thread; use it as a context manager.

    `failures` maps a path to the HTTP status its requests get, for tests of
    unexpected responses.
    """

    def __init__(self, accepted_key: str, seed: int = 0, failures: Mapping[str, int] | None = None) -> None:
        self.accepted_key = accepted_key
        self.failures = dict(failures or {})
        self.requests: list[RecordedRequest] = []
        self._rng = np.random.default_rng(seed)
        self._seed = seed
        self._models: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-aisara", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeAisaraService:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # -- endpoints ------------------------------------------------------------

    def answer(self, path: str, body: Any) -> Any:
        """Return the response body for a POST to `path`.

        Raises UnknownEndpoint for a path the service does not have, KeyError
        for a missing field and ValueError for a field that does not parse.
        """
        handlers = {
            "/latin/uniform": self.latin_uniform,
            "/developer/dfit": self.fit,
            "/developer/dpred": self.predict,
            "/grid/general_pred": self.general_pred,
            "/grid/general": self.general_grid,
        }
        if path not in handlers:
            raise UnknownEndpoint(path)
        return handlers[path](body)

    def latin_uniform(self, body: Mapping[str, Any]) -> dict[str, list[float]]:
        count = int(body["subsection"])
        bounds = {name: value for name, value in body.items() if name != "subsection"}
        with self._lock:
            self._seed += 1
            units = qmc.LatinHypercube(d=len(bounds), rng=self._seed).random(count)
        # Scaled by hand rather than with qmc.scale, which rejects a fixed
        # (low == high) or inverted range, and the package sends both.
        return {
            name: [float(low + unit * (high - low)) for unit in units[:, column]]
            for column, (name, (low, high)) in enumerate(bounds.items())
        }

    def fit(self, body: Mapping[str, Any]) -> dict[str, str]:
        params = body["params"]
        x = _matrix(params["train_x"], json.loads(params["x_shape"]))
        y = _numbers(params["train_y"])
        with self._lock:
            model_id = f"model-{len(self._models) + 1}"
            self._models[model_id] = (x, y)
        return {"result": model_id}

    def predict(self, body: Mapping[str, Any]) -> dict[str, Any]:
        params = body["params"]
        with self._lock:
            x_train, y_train = self._models[params["model_id"]]
        x = _matrix(params["test_x"], json.loads(params["x_shape"]))
        impacts = _impacts(x_train, y_train)
        # aisaratuners sums each inner list and reverses the order.
        return {"result": _predict(x_train, y_train, x).tolist(), "impacts": [[float(v)] for v in impacts[::-1]]}

    def general_pred(self, body: Mapping[str, Any]) -> dict[str, Any]:
        grid = {name: value for name, value in body.items() if name not in ("x_train", "x_shape", "metric", "loss")}
        data = _matrix(body["x_train"], body["x_shape"])
        x_train, y_train = data[:, :-1], data[:, -1]

        points = self._grid_points(list(grid.values()))
        predictions = _predict(x_train, y_train, points)
        best = int(np.argmax(predictions) if body["metric"] == "max" else np.argmin(predictions))

        combination: dict[str, list[float]] = {}
        for column, (name, axis) in enumerate(grid.items()):
            value = points[best, column].item()
            # An int axis gets an int value, as the package built its grid.
            combination[name] = [int(round(value)) if all(isinstance(v, int) for v in axis) else value]
        combination["Prediction"] = [float(predictions[best])]
        impacts = _impacts(x_train, y_train)
        shares = {name: float(impacts[column]) for column, name in enumerate(grid)}
        return {"Impact": shares, "Best combination": combination}

    def general_grid(self, body: Mapping[str, Any]) -> dict[str, list[float]]:
        names = list(body)
        rows = list(itertools.product(*body.values()))[:MAX_GRID_POINTS]
        return {name: [row[column] for row in rows] for column, name in enumerate(names)}

    def _grid_points(self, axes: list[list[float]]) -> np.ndarray:
        size = int(np.prod([len(axis) for axis in axes]))
        if size <= MAX_GRID_POINTS:
            return np.array(list(itertools.product(*axes)), dtype=float)
        with self._lock:
            picks = [self._rng.integers(0, len(axis), MAX_GRID_POINTS) for axis in axes]
        return np.column_stack([np.asarray(axis, dtype=float)[pick] for axis, pick in zip(axes, picks)])


def _handler_for(service: FakeAisaraService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
            headers = {name.lower(): value for name, value in self.headers.items()}
            service.requests.append(RecordedRequest("POST", self.path, headers, body))

            key = self.headers.get("X-RapidAPI-Key")
            if key is None:
                self._send(401, {"message": INVALID_KEY})
            elif key != service.accepted_key:
                self._send(403, {"message": NOT_SUBSCRIBED})
            elif self.path in service.failures:
                self._send_text(service.failures[self.path], "internal error")
            else:
                self._answer(body)

        def _answer(self, body: Any) -> None:
            try:
                answer = service.answer(self.path, body)
            except UnknownEndpoint:
                self._send(404, {"message": f"Endpoint '{self.path}' does not exist"})
            except KeyError as error:
                self._send(400, {"message": f"missing or unknown field {error}"})
            except ValueError as error:
                # aisaratuners 1.5.2 under NumPy 2 sends "np.float64(18.0), ..."
                # where numbers belong; the fake rejects that as a parser would.
                self._send(400, {"message": f"invalid input: {error}"})
            except Exception as error:
                self._send(500, {"message": f"internal error: {type(error).__name__}"})
            else:
                self._send(200, answer)

        def _send(self, status: int, payload: Any) -> None:
            self._send_text(status, json.dumps(payload), "application/json")

        def _send_text(self, status: int, text: str, content_type: str = "text/plain") -> None:
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the tests read `service.requests` instead of stderr

    return Handler


def _numbers(text: str) -> np.ndarray:
    """Parse the comma-separated numbers aisaratuners sends ("1.0, 2.5, nan")."""
    return np.nan_to_num(np.array([float(item) for item in text.split(",")], dtype=float))


def _matrix(text: str, shape: list[int]) -> np.ndarray:
    return _numbers(text).reshape(int(shape[0]), int(shape[1]))


def _scaled(x_train: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    low = x_train.min(axis=0)
    span = np.ptp(x_train, axis=0)
    span[span == 0] = 1.0
    return (x_train - low) / span, (x - low) / span


def _predict(x_train: np.ndarray, y_train: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Predict by inverse-distance weighting, so a query on a training point returns its value."""
    train, query = _scaled(x_train, x)
    distances = np.linalg.norm(query[:, None, :] - train[None, :, :], axis=2)
    weights = 1.0 / (distances**2 + 1e-12)
    return (weights @ y_train) / weights.sum(axis=1)


def _impacts(x_train: np.ndarray, y_train: np.ndarray) -> np.ndarray:
    """Return the shares (summing to 1) of the absolute linear coefficients on range-scaled inputs."""
    train, _ = _scaled(x_train, x_train)
    design = np.column_stack([train, np.ones(len(train))])
    coefficients = np.abs(np.linalg.lstsq(design, y_train, rcond=None)[0][:-1])
    total = coefficients.sum()
    if total == 0 or not np.isfinite(total):
        return np.full(train.shape[1], 1.0 / train.shape[1])
    return coefficients / total
