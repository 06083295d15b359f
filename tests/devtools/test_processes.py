"""The process helpers the demo, the tests and the benchmarks share: a port counts as taken while
something listens on it, not after (so a stopped service starts again on its port), and a service
is not started on a port someone else answers on."""

from __future__ import annotations

import socket
from contextlib import closing

import pytest

from devtools.processes import LocalService, free_port, port_is_free


def _listener(port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen()
    return sock


def test_a_port_is_taken_while_something_listens_on_it():
    with closing(_listener()) as listener:
        port = listener.getsockname()[1]
        assert not port_is_free(port)
    assert port_is_free(port)


def test_a_port_whose_server_closed_its_connections_first_is_free_again():
    """The server's side of a connection it closed lingers in TIME_WAIT; a server binds over it,
    as the service does when it is restarted on its port."""
    with closing(_listener()) as listener:
        port = listener.getsockname()[1]
        with closing(socket.create_connection(("127.0.0.1", port))) as client:
            accepted, _ = listener.accept()
            accepted.close()  # the server closes first: its side goes to TIME_WAIT
            client.recv(1)  # the client sees the end
    assert port_is_free(port)


def test_free_port_is_free():
    assert port_is_free(free_port())


def test_a_service_is_not_started_on_a_port_someone_else_answers_on(tmp_path):
    with closing(_listener()) as listener:
        port = listener.getsockname()[1]
        service = LocalService(tmp_path / "data", tmp_path / "files", port=port)
        with pytest.raises(RuntimeError, match=f"port {port}: already in use"):
            service.start()
        assert service.process is None
