"""The registry client's connection pool at shutdown: a connection handed back after the pool was
closed (a blob thread finishing late) is closed, not kept; a thread blocked reading a body when
the pool closes wakes at once with an error; a closed pool makes no new connection. Against a
small HTTP server on 127.0.0.1."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from pytest_imagesize.measure.archive.source import BlobInfo
from pytest_imagesize.sources.model import SourceError
from pytest_imagesize.sources.registry import RegistryOptions, RegistrySource
from pytest_imagesize.sources.registry.transport import (
    Pool,
    PoolClosed,
    Stalled,
    TransportError,
    exchange,
)
from tests.support.fake_engine import FakeImage

from .registry_support import Answer, Request, Server, fake_registry_of, sha256


@pytest.fixture
def server() -> Iterator[Server]:
    def route(request: Request) -> Answer:
        if request.path == "/stall":

            def send(handler: http.server.BaseHTTPRequestHandler) -> None:
                handler.send_response(200)
                handler.send_header("Content-Length", "1000")
                handler.end_headers()
                handler.wfile.write(b"x" * 10)
                handler.wfile.flush()
                made.release.wait(30)  # until the test is over

            return Answer(send=send)
        return Answer(200, b"{}")

    made = Server(route)
    try:
        yield made
    finally:
        made.close()


def test_a_connection_handed_back_is_kept_while_the_pool_is_open(server: Server) -> None:
    pool = Pool("http", server.address, 10, None, None)
    response = exchange(pool, "GET", "/v2/", {}, None)
    assert response.read(100) == b"{}"
    connection = response._connection
    response.release()
    assert pool.take() == (connection, True)
    pool.close()


def test_a_connection_handed_back_after_close_is_closed(server: Server) -> None:
    pool = Pool("http", server.address, 10, None, None)
    response = exchange(pool, "GET", "/v2/", {}, None)
    assert response.read(100) == b"{}"
    connection = response._connection
    assert connection is not None
    pool.close()
    response.release()  # whole and keep-alive: an open pool would keep it
    assert connection._sock is None
    with pytest.raises(PoolClosed):
        pool.take()


def test_closing_the_pool_wakes_a_thread_blocked_reading_a_body(server: Server) -> None:
    pool = Pool("http", server.address, 60, None, None)
    reading, finished = threading.Event(), threading.Event()
    outcome: list[BaseException] = []

    def reader() -> None:
        response = exchange(pool, "GET", "/stall", {}, None)
        try:
            assert response.read1(10) == b"x" * 10
            reading.set()
            response.read(990)
        except BaseException as exc:  # what the thread met is the outcome
            outcome.append(exc)
        finally:
            response.close()
            finished.set()

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    assert reading.wait(10)
    pool.close()
    assert finished.wait(10), "the reader was not woken by the pool's close"
    [error] = outcome
    assert isinstance(error, TransportError) and not isinstance(error, Stalled)
    thread.join(10)


def test_a_closed_source_sends_no_request() -> None:
    """A blob thread that goes on after the source was closed (resuming a download, say) gets one
    line at once, and the registry sees no new request."""
    image = FakeImage.from_layers([{"a": b"a" * 100}], compression="gzip")
    registry, _ = fake_registry_of(image)
    try:
        source = RegistrySource(f"{registry.address}/app:1", RegistryOptions(retries=3))
        source.platforms()
        blob = image.layers[0].blob
        info = BlobInfo(key=sha256(blob), size=len(blob), digest=sha256(blob), diff_id=None, media_type=None)
        assert b"".join(source.blob_chunks(info, 1 << 16)) == blob
        seen = len(registry.server.log)
        source.close()
        with pytest.raises(SourceError) as caught:
            source.blob_response(info)
        assert str(caught.value) == (
            f"registry {registry.address}: the request for layer {info.key[:19]} came after the source "
            "was closed"
        )
        assert len(registry.server.log) == seen
    finally:
        registry.close()
