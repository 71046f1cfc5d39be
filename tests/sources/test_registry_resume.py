"""A layer download the registry drops midway is resumed with a ``Range`` request from the byte it
stopped at (or, where the registry ignores ``Range``, read again with the bytes already received
skipped), a bounded number of times; the digest is still checked on the whole blob."""

from __future__ import annotations

import http.server
from collections.abc import Callable, Iterator

import pytest

from pytest_imagesize.measure.archive.reader import read_blobs
from pytest_imagesize.sources.model import SourceError
from pytest_imagesize.sources.registry import RegistryOptions, RegistrySource
from tests.support.fake_engine import FakeImage

from .registry_support import Answer, FakeRegistry, Request, fake_registry_of, sha256
from .test_registry_faults import NOISE

IMAGE = FakeImage.from_layers(
    [{"bin/app": bytes(range(256)) * 500}, {"etc/noise": NOISE}], compression="gzip"
)
BLOB = IMAGE.layers[1].blob
LAYER = sha256(BLOB)
PATH = f"/v2/app/blobs/{LAYER}"


@pytest.fixture
def fake() -> Iterator[FakeRegistry]:
    registry, _ = fake_registry_of(IMAGE)
    try:
        yield registry
    finally:
        registry.close()


def read(registry: FakeRegistry, **options: object) -> list[tuple[str | None, int]]:
    """The image read whole: each layer's diff ID (the hash of its inflated tar) and size."""
    source = RegistrySource(f"{registry.address}/app:1", RegistryOptions(**options))  # type: ignore[arg-type]
    try:
        [entry] = source.platforms()
        analysis = read_blobs(source.blobs(source.manifest(entry)), workers=1)
        return [(layer.diff_id, layer.portable_size) for layer in analysis.layers]
    finally:
        source.close()


def dropped_at(after: int, body: bytes) -> Callable[[http.server.BaseHTTPRequestHandler], None]:
    """An answer of 200 for the whole blob that stops after ``after`` bytes of ``body``."""

    def send(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(BLOB)))
        handler.end_headers()
        handler.wfile.write(body[:after])
        handler.wfile.flush()
        handler.close_connection = True
        handler.connection.shutdown(2)

    return send


def ranged(body: bytes = BLOB) -> Callable[[Request], Answer]:
    """The blob's first GET dropped after 7,000 bytes; a GET with ``Range: bytes=N-`` answered
    206 with ``body`` from N on."""

    def answer(request: Request) -> Answer:
        wanted = request.headers.get("Range")
        if wanted is None:
            return Answer(send=dropped_at(7000, BLOB))
        start = int(wanted.removeprefix("bytes=").rstrip("-"))
        headers = {"Content-Range": f"bytes {start}-{len(BLOB) - 1}/{len(BLOB)}"}
        return Answer(206, body[start:], headers)

    return answer


def blob_requests(registry: FakeRegistry) -> list[str | None]:
    return [headers.get("Range") for method, path, headers in registry.server.log if path == PATH]


def test_a_dropped_download_is_resumed_from_where_it_stopped(fake: FakeRegistry) -> None:
    whole = read(fake)
    fake.server.log.clear()
    fake.faults[PATH] = ranged()
    assert read(fake) == whole
    assert blob_requests(fake) == [None, "bytes=7000-"]


def test_a_registry_ignoring_range_is_read_again_and_what_was_received_skipped(fake: FakeRegistry) -> None:
    whole = read(fake)
    fake.server.log.clear()
    calls = []

    def answer(request: Request) -> Answer:
        calls.append(request.headers.get("Range"))
        if len(calls) == 1:
            return Answer(send=dropped_at(7000, BLOB))
        return Answer(200, BLOB)  # the whole blob, Range ignored

    fake.faults[PATH] = answer
    assert read(fake) == whole
    assert calls == [None, "bytes=7000-"]


def test_the_digest_is_checked_on_the_whole_resumed_blob(fake: FakeRegistry) -> None:
    changed = bytearray(BLOB)
    changed[-9] ^= 0xFF  # after the resume point, in the gzip trailer: only the digest tells
    fake.faults[PATH] = ranged(bytes(changed))
    with pytest.raises(SourceError) as caught:
        read(fake)
    assert "\n" not in str(caught.value)
    assert (
        f"layer {LAYER[:19]} of {fake.address}/app:1 from registry {fake.address} does not match its digest"
        in str(caught.value)
    )


def test_resumes_are_bounded_by_the_retries(fake: FakeRegistry) -> None:
    def answer(request: Request) -> Answer:
        return Answer(send=dropped_at(7000, BLOB))  # every answer stops at the same byte

    fake.faults[PATH] = answer
    with pytest.raises(SourceError) as caught:
        read(fake, retries=2)
    assert str(caught.value) == (
        f"registry {fake.address} dropped the connection after 7000 of {len(BLOB)} bytes of layer "
        f"{LAYER[:19]} of {fake.address}/app:1: try again"
    )
    assert blob_requests(fake) == [None, "bytes=7000-", "bytes=7000-"]


def test_a_resume_at_another_byte_is_one_line(fake: FakeRegistry) -> None:
    def answer(request: Request) -> Answer:
        if request.headers.get("Range") is None:
            return Answer(send=dropped_at(7000, BLOB))
        return Answer(206, BLOB[10:], {"Content-Range": f"bytes 10-{len(BLOB) - 1}/{len(BLOB)}"})

    fake.faults[PATH] = answer
    with pytest.raises(SourceError, match=r"resumed layer sha256:\w+ at another byte than 7000 \('bytes 10-"):
        read(fake)
