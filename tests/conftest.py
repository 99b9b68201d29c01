"""Fixtures shared by tunescope's tests."""

from __future__ import annotations

import socket

import pytest


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Block every outgoing connection and name lookup in this process.

    Returns the list of blocked attempts (addresses or host names), so a test
    can check whether code tried to reach the network.
    """
    attempts: list[object] = []

    def block_connect(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise ConnectionRefusedError(f"network blocked by the test (connect to {address!r})")

    def block_lookup(host: object, *args: object, **kwargs: object) -> None:
        attempts.append(host)
        raise socket.gaierror(f"network blocked by the test (lookup of {host!r})")

    monkeypatch.setattr(socket.socket, "connect", block_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", block_connect)
    monkeypatch.setattr(socket, "getaddrinfo", block_lookup)
    monkeypatch.setattr(socket, "create_connection", lambda address, *a, **k: block_connect(None, address))
    return attempts
