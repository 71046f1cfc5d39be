"""The registry source against a registry of our own that misbehaves on purpose: a blob that does
not hash to its digest, a connection dropped mid-blob, a stall, 429 with Retry-After, absurd
manifests, an artifact that is not an image, a redirect to another host. Each failure is one
``SourceError`` line, raised through the reader, and nothing is read from a manifest that was
refused."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import threading
from collections.abc import Callable, Iterator

import pytest

from pytest_imagesize.measure.archive.reader import read_blobs
from pytest_imagesize.sources.model import SourceError
from pytest_imagesize.sources.registry import RegistryOptions, RegistrySource
from tests.support.fake_engine import FakeImage

from .registry_support import Answer, FakeRegistry, Request, Server, fake_registry_of, sha256

NOISE = b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(8000))  # incompressible
IMAGE = FakeImage.from_layers(
    [{"bin/app": bytes(range(256)) * 2000}, {"etc/noise": NOISE}, {"var/x": b"x" * 10}],
    compression="gzip",
)
Registry = tuple[FakeRegistry, dict[str, object]]


@pytest.fixture
def fake() -> Iterator[tuple[FakeRegistry, dict[str, object]]]:
    registry, manifest = fake_registry_of(IMAGE)
    try:
        yield registry, manifest
    finally:
        registry.close()


def open_source(registry: FakeRegistry, ref: str = "app:1", **options: object) -> RegistrySource:
    return RegistrySource(f"{registry.address}/{ref}", RegistryOptions(**options))  # type: ignore[arg-type]


def read_all(registry: FakeRegistry, **options: object) -> None:
    src = open_source(registry, "app:1", **options)
    try:
        [entry] = src.platforms()
        read_blobs(src.blobs(src.manifest(entry)), workers=1)
    finally:
        src.close()


def one_line(error: pytest.ExceptionInfo[SourceError]) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


LAYER = sha256(IMAGE.layers[1].blob)


def test_the_fake_registry_serves_the_image_whole(fake: Registry) -> None:
    registry, _ = fake
    read_all(registry)
    assert sorted(registry.blob_gets()) == sorted(
        [f"/v2/app/blobs/{IMAGE.id}"] + [f"/v2/app/blobs/{sha256(layer.blob)}" for layer in IMAGE.layers]
    )


def test_a_blob_that_does_not_match_its_digest_fails_the_read(fake: Registry) -> None:
    registry, _ = fake
    blob = bytearray(IMAGE.layers[1].blob)
    blob[-9] ^= 0xFF  # in the gzip trailer's CRC: it still inflates; only the digest tells
    registry.blobs[LAYER] = bytes(blob)
    with pytest.raises(SourceError) as caught:
        read_all(registry)
    assert one_line(caught) == (
        f"layer {LAYER[:19]} of {registry.address}/app:1 from registry {registry.address} does not match "
        f"its digest (got {sha256(bytes(blob))[:19]}): "
        "the registry is damaged or something between changed it"
    )


def test_a_blob_of_another_size_than_the_manifest_says_fails_before_reading(fake: Registry) -> None:
    registry, _ = fake
    registry.blobs[LAYER] = IMAGE.layers[1].blob + b"more"
    with pytest.raises(
        SourceError, match=r"sends \d+ bytes for layer .* whose manifest says \d+: the registry is damaged"
    ):
        read_all(registry)


def dropping(after: int) -> Callable[[Request], Answer]:
    def send(handler: http.server.BaseHTTPRequestHandler) -> None:
        blob = IMAGE.layers[1].blob
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(blob)))
        handler.end_headers()
        handler.wfile.write(blob[:after])
        handler.wfile.flush()
        handler.close_connection = True
        handler.connection.shutdown(2)

    return lambda request: Answer(send=send)


def test_a_connection_dropped_mid_blob_is_one_line(fake: Registry) -> None:
    registry, _ = fake
    registry.faults[f"/v2/app/blobs/{LAYER}"] = dropping(1000)
    with pytest.raises(SourceError) as caught:
        read_all(registry)
    size = len(IMAGE.layers[1].blob)
    assert one_line(caught) == (
        f"registry {registry.address} dropped the connection after 1000 of {size} bytes of layer "
        f"{LAYER[:19]} of {registry.address}/app:1: try again"
    )


def test_a_stalled_blob_names_the_timeout_option(fake: Registry) -> None:
    registry, _ = fake

    def send(handler: http.server.BaseHTTPRequestHandler) -> None:
        blob = IMAGE.layers[1].blob
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(blob)))
        handler.end_headers()
        handler.wfile.write(blob[:500])
        handler.wfile.flush()
        registry.server.release.wait(30)  # until the test is over

    registry.faults[f"/v2/app/blobs/{LAYER}"] = lambda request: Answer(send=send)
    with pytest.raises(SourceError) as caught:
        read_all(registry, timeout=1.0)
    assert one_line(caught) == (
        f"registry {registry.address} stalled: no data for 1 s while reading layer {LAYER[:19]} of "
        f"{registry.address}/app:1 after 500 of {len(IMAGE.layers[1].blob)} bytes: try again, or raise the "
        "registry timeout option (now 1 s)"
    )


def test_a_stalled_manifest_is_tried_again_then_named(fake: Registry) -> None:
    registry, _ = fake

    def send(handler: http.server.BaseHTTPRequestHandler) -> None:
        registry.server.release.wait(30)

    registry.faults["/v2/app/manifests/1"] = lambda request: Answer(send=send)
    src = open_source(registry, timeout=1.0, retries=1)
    with pytest.raises(SourceError) as caught:
        src.platforms()
    assert one_line(caught) == (
        f"registry {registry.address} stalled: no data for 1 s while reading the answer to the request for "
        f"the manifest of {registry.address}/app:1 (2 tries): try again, or raise the registry timeout "
        "option (now 1 s)"
    )
    assert registry.server.paths().count("/v2/app/manifests/1") == 2


def test_429_with_retry_after_is_waited_out(fake: Registry) -> None:
    registry, manifest = fake
    answers = iter([Answer(429, b"slow down", {"Retry-After": "1"})])
    normal = json.dumps(manifest).encode()

    def limited(request: Request) -> Answer:
        return next(answers, None) or Answer(
            200, normal, {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
        )

    registry.faults["/v2/app/manifests/1"] = limited
    read_all(registry)
    assert registry.server.paths().count("/v2/app/manifests/1") == 2


def test_503_until_the_retries_are_spent_is_one_line(fake: Registry) -> None:
    registry, _ = fake
    registry.faults["/v2/app/manifests/1"] = lambda request: Answer(
        503, b'{"errors": [{"code": "UNAVAILABLE", "message": "try later"}]}', {"Retry-After": "0"}
    )
    src = open_source(registry, retries=2)
    with pytest.raises(SourceError) as caught:
        src.platforms()
    assert one_line(caught) == (
        f"registry {registry.address} answered 503 to the request for the manifest of "
        f"{registry.address}/app:1 (UNAVAILABLE: try later): try again later"
    )
    assert registry.server.paths().count("/v2/app/manifests/1") == 3


def test_a_manifest_of_ten_thousand_layers_is_refused_without_a_download(fake: Registry) -> None:
    registry, manifest = fake
    layer = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": LAYER, "size": 1 << 30}
    huge = json.dumps(dict(manifest, layers=[layer] * 10_000)).encode()
    registry.manifests["1"] = huge
    src = open_source(registry)
    with pytest.raises(SourceError) as caught:
        src.platforms()
    assert one_line(caught).endswith("claims 10000 layers, more than 1000: refused")
    assert registry.blob_gets() == []


def test_a_manifest_larger_than_any_is_refused_before_it_is_read(fake: Registry) -> None:
    registry, _ = fake
    registry.manifests["1"] = b" " * (5 << 20)
    src = open_source(registry)
    with pytest.raises(SourceError) as caught:
        src.platforms()
    assert one_line(caught) == (
        f"registry {registry.address}/app:1: the manifest of {registry.address}/app:1 is 5242880 bytes, "
        "more than 4194304: refused"
    )


def test_a_layer_claiming_a_terabyte_is_refused(fake: Registry) -> None:
    registry, manifest = fake
    layers = list(manifest["layers"])  # type: ignore[call-overload]
    layers[0] = dict(layers[0], size=1 << 41)
    registry.manifests["1"] = json.dumps(dict(manifest, layers=layers)).encode()
    with pytest.raises(SourceError, match="claims an impossible size 2199023255552"):
        open_source(registry).platforms()


def test_a_tag_whose_bytes_do_not_match_the_registry_digest_header_is_refused(fake: Registry) -> None:
    registry, manifest = fake
    data = json.dumps(manifest).encode()
    registry.faults["/v2/app/manifests/1"] = lambda request: Answer(
        200, data, {"Docker-Content-Digest": sha256(data + b" ")}
    )
    with pytest.raises(SourceError, match="content does not match its digest"):
        open_source(registry).platforms()


def test_a_digest_reference_whose_bytes_hash_otherwise_is_refused(fake: Registry) -> None:
    registry, manifest = fake
    claimed = sha256(b"another manifest")
    registry.manifests[claimed] = json.dumps(manifest).encode()
    with pytest.raises(SourceError, match="content does not match its digest"):
        open_source(registry, f"app@{claimed}").platforms()


def test_an_artifact_that_is_not_an_image_is_named(fake: Registry) -> None:
    registry, manifest = fake
    config = dict(manifest["config"])  # type: ignore[call-overload]
    config["mediaType"] = "application/vnd.cncf.helm.config.v1+json"
    registry.manifests["1"] = json.dumps(dict(manifest, config=config)).encode()
    with pytest.raises(SourceError) as caught:
        open_source(registry).platforms()
    assert "is not a container image (its config is application/vnd.cncf.helm.config.v1+json)" in one_line(
        caught
    )
    assert registry.blob_gets() == []


def test_an_index_of_attestations_only_is_named(fake: Registry) -> None:
    registry, manifest = fake
    data = json.dumps(manifest).encode()
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": sha256(data),
                "size": len(data),
                "platform": {"os": "unknown", "architecture": "unknown"},
            }
        ],
    }
    registry.manifests["1"] = json.dumps(index).encode()
    with pytest.raises(SourceError, match="holds only attestation manifests"):
        open_source(registry).platforms()


def test_a_redirected_blob_is_fetched_without_the_authorization(fake: Registry, tmp_path: object) -> None:
    """The registry asks for a login (Basic) and sends layer blobs to another host (as registries
    send them to object storage): the credentials go to the registry only."""
    registry, _ = fake
    from pathlib import Path

    config = Path(str(tmp_path)) / "config.json"
    basic = base64.b64encode(b"user:pa55-w0rd").decode()
    config.write_text(json.dumps({"auths": {registry.address: {"auth": basic}}}))
    registry.auth = f"Basic {basic}"
    storage = Server(lambda request: Answer(200, IMAGE.layers[1].blob))
    try:
        registry.faults[f"/v2/app/blobs/{LAYER}"] = lambda request: Answer(
            307, b"", {"Location": f"http://{storage.address}/bucket/{LAYER}?sig=1"}
        )
        read_all(registry, docker_config=config)
        assert [(path, headers.get("Authorization")) for _, path, headers in storage.log] == [
            (f"/bucket/{LAYER}?sig=1", None)
        ]
        blob_requests = [
            h.get("Authorization") for _, p, h in registry.server.log if p == f"/v2/app/blobs/{LAYER}"
        ]
        assert blob_requests == [f"Basic {basic}"]  # anonymous first happened on the manifest
    finally:
        storage.close()


@pytest.mark.parametrize("at_once", [1, 3])
def test_blobs_at_once_is_how_many_downloads_run_ahead(fake: Registry, at_once: int) -> None:
    """The second layer stalls: with one download at a time the third is never asked for; with
    three at once it is asked for while the reader still waits for the second."""
    registry, _ = fake
    third = f"/v2/app/blobs/{sha256(IMAGE.layers[2].blob)}"
    asked = threading.Event()

    def send(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(IMAGE.layers[1].blob)))
        handler.end_headers()
        handler.wfile.flush()
        registry.server.release.wait(30)

    def third_layer(request: Request) -> Answer:
        asked.set()
        return Answer(200, IMAGE.layers[2].blob)

    registry.faults[f"/v2/app/blobs/{LAYER}"] = lambda request: Answer(send=send)
    registry.faults[third] = third_layer
    if at_once == 3:
        with pytest.raises(SourceError, match="stalled"):
            read_all(registry, timeout=1.0, blobs_at_once=3, retries=0)
        assert asked.wait(10)
    else:
        with pytest.raises(SourceError, match="stalled"):
            read_all(registry, timeout=1.0, blobs_at_once=1, retries=0)
        assert third not in registry.server.paths()
