"""The registry client's HTTP/1.1 answers framed every way a server may frame them: chunked
(extensions, trailers), Content-Length, no length and the connection's close (HTTP/1.0), no body
(204, HEAD); a connection kept alive serves the next request, one that ends early is an error.
Against a raw socket server on 127.0.0.1 that writes the bytes each test gives."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from pytest_imagesize.sources.registry.transport import Pool, TransportError, exchange


class RawServer:
    """Answers the n-th request it reads (on whichever connection) with ``answers[n]`` (bytes as
    written); ``connections`` counts the requests read on each connection."""

    def __init__(self, answers: list[bytes]) -> None:
        self.answers = list(answers)
        self.connections: list[int] = []
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.address = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: socket.socket) -> None:
        self.connections.append(0)
        slot = len(self.connections) - 1
        with connection, connection.makefile("rb") as requests:
            while self.answers:
                while (line := requests.readline()) not in (b"\r\n", b""):
                    pass
                if not line:
                    return
                self.connections[slot] += 1
                answer = self.answers.pop(0)
                connection.sendall(answer)
                if b"Connection: close" in answer or answer.startswith(b"HTTP/1.0"):
                    return

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def serve() -> Iterator[list[RawServer]]:
    made: list[RawServer] = []
    yield made
    for server in made:
        server.close()


def get(pool: Pool, method: str = "GET") -> tuple[int, bytes]:
    response = exchange(pool, method, "/v2/", {}, None)
    try:
        return response.status, response.read(1 << 20)
    finally:
        response.release()


CHUNKED = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: yes\r\n\r\n"
)
SIZED = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext"


def test_a_chunked_body_is_read_whole_and_the_connection_serves_again(serve: list[RawServer]) -> None:
    server = RawServer([CHUNKED, SIZED])
    serve.append(server)
    pool = Pool("http", server.address, 10, None, None)
    assert get(pool) == (200, b"hello, world")
    assert get(pool) == (200, b"next")
    assert server.connections == [2]  # one connection for both
    pool.close()


def test_no_length_reads_to_the_close_and_the_connection_is_not_reused(serve: list[RawServer]) -> None:
    server = RawServer([b"HTTP/1.0 200 OK\r\n\r\nuntil the end", SIZED])
    serve.append(server)
    pool = Pool("http", server.address, 10, None, None)
    assert get(pool) == (200, b"until the end")
    assert get(pool) == (200, b"next")
    assert server.connections == [1, 1]
    pool.close()


def test_answers_without_a_body(serve: list[RawServer]) -> None:
    server = RawServer(
        [b"HTTP/1.1 204 No Content\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", SIZED]
    )
    serve.append(server)
    pool = Pool("http", server.address, 10, None, None)
    assert get(pool) == (204, b"")
    assert get(pool, "HEAD") == (200, b"")
    assert get(pool) == (200, b"next")
    assert server.connections == [3]
    pool.close()


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nshort",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhel",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n",
    ],
)
def test_a_body_that_ends_early_is_an_error(serve: list[RawServer], answer: bytes) -> None:
    server = RawServer([answer])
    serve.append(server)
    pool = Pool("http", server.address, 10, None, None)
    with pytest.raises(TransportError):
        get(pool)
    pool.close()


def test_repeated_headers_are_joined_and_names_are_case_blind(serve: list[RawServer]) -> None:
    server = RawServer([b"HTTP/1.1 200 OK\r\nX-A: 1\r\nx-a: 2\r\ncontent-length: 2\r\n\r\nok"])
    serve.append(server)
    pool = Pool("http", server.address, 10, None, None)
    response = exchange(pool, "GET", "/v2/", {}, None)
    assert response.headers.get("X-A") == "1, 2" and response.headers.get("Content-Length") == "2"
    assert response.read(10) == b"ok"
    response.release()
    pool.close()
