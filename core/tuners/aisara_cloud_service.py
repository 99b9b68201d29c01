"""The AiSara service as aisaratuners reaches it during an aisara-cloud search.

`ServiceSession` replaces the `requests` module inside
`aisaratuners.aisara_keras_tuner` for one search. It sends each request to
the base URL in `TUNESCOPE_AISARA_URL` instead of the RapidAPI host, sets a
timeout, and turns every failure into a one-line `TunescopeError` that never
contains the API key.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from ..errors import TunescopeError

logger = logging.getLogger(__name__)

SERVICE_HOST = "aisara-hyperparameter-tuning.p.rapidapi.com"
DEFAULT_SERVICE_URL = f"https://{SERVICE_HOST}"
SERVICE_URL_ENV = "TUNESCOPE_AISARA_URL"

# Seconds to wait for the service to connect or to respond to one request.
# An estimate, because the service's own limits are not known to tunescope.
# The package (1.5.2) warns that the between-round requests "might take some
# time".
DEFAULT_REQUEST_TIMEOUT_S = 120.0

OFFLINE_HINT = 'or use type = "aisara" to tune offline'

# The message RapidAPI sends for a key that is not subscribed to the API. The
# package itself (1.5.2, `api_subscription`) detects a bad key by this text.
NOT_SUBSCRIBED_MESSAGE = "You are not subscribed to this API."


def read_service_url(tuner_name: str) -> str:
    url = os.environ.get(SERVICE_URL_ENV, "").strip() or DEFAULT_SERVICE_URL
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise TunescopeError(
            f"tuner '{tuner_name}' (aisara-cloud): {SERVICE_URL_ENV}={url!r} is not a valid service URL; "
            f"use an http(s) base URL such as {DEFAULT_SERVICE_URL}, or unset it"
        )
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        logger.warning(
            "tuner %s: %s uses plain http, so the API key crosses the network unencrypted", tuner_name, SERVICE_URL_ENV
        )
    return url.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SearchEnded(Exception):
    """A signal that ends `run_opti` early for a stop request or the trial budget, not an error."""


class ServiceSession:
    """A stand-in for the `requests` module inside aisaratuners during one search.

    Each request goes to `base_url` instead of the RapidAPI host, with a
    timeout. A failure is kept in `failure` and raised as a one-line
    `TunescopeError`, because the package catches exceptions from most of
    its requests and raises its own APIError instead.
    """

    def __init__(
        self,
        tuner_name: str,
        base_url: str,
        api_key: str,
        api_key_env: str,
        timeout: float,
        should_stop: Callable[[], bool],
    ) -> None:
        import requests

        self._requests = requests
        self._request = requests.request
        self.tuner_name = tuner_name
        self.base_url = base_url
        self.api_key = api_key
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.should_stop = should_stop
        self.failure: TunescopeError | None = None
        self.stop_requested = False
        self.request_count = 0

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        """Send one request of the package to the configured service and check the response."""
        if self.should_stop():
            # The package sends many requests between rounds, so a stop
            # request is honoured here too, not only between trials.
            self.stop_requested = True
            raise SearchEnded("cancelled")

        target = self.redirect(url)
        kwargs["timeout"] = self.timeout
        self.request_count += 1
        logger.debug("tuner %s: %s %s", self.tuner_name, method, target)
        try:
            response = self._request(method, target, **kwargs)
        except self._requests.Timeout:
            raise self._fail(
                f"the AiSara service at {self.base_url} did not respond within {self.timeout:g} s; "
                f"check the network and {SERVICE_URL_ENV}, {OFFLINE_HINT}"
            ) from None
        except self._requests.ConnectionError:
            raise self._fail(
                f"the AiSara service at {self.base_url} is unreachable (connection failed); "
                f"check the network and {SERVICE_URL_ENV}, {OFFLINE_HINT}"
            ) from None
        except self._requests.RequestException as error:
            raise self._fail(f"the request to {target} failed ({type(error).__name__}); {OFFLINE_HINT}") from None

        self.check(response, target)
        return response

    def redirect(self, url: str) -> str:
        """Return `url` with its scheme and host replaced by the base URL."""
        parts = urlsplit(url)
        if parts.hostname != SERVICE_HOST:
            # Only the AiSara service may receive the key.
            raise self._fail(f"aisaratuners requested an unknown host {parts.hostname!r}; nothing was sent")
        query = f"?{parts.query}" if parts.query else ""
        return f"{self.base_url}{parts.path}{query}"

    def check(self, response: Any, target: str) -> None:
        status = response.status_code
        message = self._service_message(response)
        if status in (401, 403) or NOT_SUBSCRIBED_MESSAGE in message or "Invalid API key" in message:
            raise self.key_rejected(f"HTTP {status}: {message}" if message else f"HTTP {status}")
        if status == 429:
            raise self._fail(
                f"the AiSara service rejected the request: rate limit or quota exceeded (HTTP 429: {message}); "
                f"wait and run again, or check your RapidAPI plan"
            )
        if status >= 400:
            raise self._fail(
                f"unexpected response from the AiSara service at {target} (HTTP {status}: {message or 'no message'}); "
                f"try again later, {OFFLINE_HINT}"
            )
        try:
            response.json()
        except ValueError:
            raise self._fail(
                f"unexpected response from the AiSara service at {target} (HTTP {status}, not JSON); "
                f"check {SERVICE_URL_ENV}, {OFFLINE_HINT}"
            ) from None

    def key_rejected(self, detail: str) -> TunescopeError:
        return self._fail(
            f"the AiSara service rejected the API key in the environment variable {self.api_key_env} ({detail}); "
            "check the key and your RapidAPI subscription to the AiSara API"
        )

    def _service_message(self, response: Any) -> str:
        """Return the service's `message` field, or the start of a non-JSON body, as one line without the key."""
        try:
            body = response.json()
        except ValueError:
            body = response.text[:1000]
        if isinstance(body, dict) and set(body) == {"message"}:
            body = body["message"]
        if not isinstance(body, str):
            return ""
        text = " ".join(body.split())[:160]
        return text.replace(self.api_key, "***") if self.api_key else text

    def _fail(self, problem: str) -> TunescopeError:
        error = TunescopeError(f"tuner '{self.tuner_name}' (aisara-cloud): {problem}")
        if self.failure is None:
            self.failure = error
        logger.error("%s", error)
        return error
