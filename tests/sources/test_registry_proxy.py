"""The registry source through an HTTP proxy, as Docker reads the environment: ``HTTP_PROXY`` for a
plain-HTTP registry (absolute request targets, the proxy's login as ``Proxy-Authorization``),
``HTTPS_PROXY`` for a TLS one (a CONNECT tunnel, TLS inside it), loopback and ``NO_PROXY`` hosts
reached directly. The proxy is a small one written here; the registry is a real docker-registry on
127.0.0.1, named ``registry.test`` (a name only the proxy resolves)."""

from __future__ import annotations

import base64
import contextlib
import socket
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pytest_imagesize.sources.model import SourceError
from pytest_imagesize.sources.registry import RegistryOptions, RegistrySource
from tests.support.fake_engine import FakeImage

from .registry_support import CA, Registry, _openssl, make_ca, push_archive, running_registry

NAME = "registry.test"  # resolved by the proxy alone
IMAGE = FakeImage.from_layers(
    [{"bin/app": b"app " * 4000}, {"etc/x": b"x" * 300}], compression="gzip", layout="oci"
)


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


@dataclass
class Proxy:
    """A forwarding HTTP proxy on 127.0.0.1: CONNECT tunnels and absolute-form requests, each
    client connection to one upstream; ``seen`` lists (method, target, Proxy-Authorization) of the
    first request of each connection."""

    address: str = ""
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    line = self.rfile.readline(65536)
                    if not line:
                        return
                    head += line
                first, *lines = head.decode("latin-1").split("\r\n")
                method, target, _ = first.split(" ", 2)
                headers = dict(line.split(": ", 1) for line in lines if ": " in line)
                outer.seen.append((method, target, headers.get("Proxy-Authorization")))
                authority = target if method == "CONNECT" else target.split("/")[2]
                host, port = authority.rsplit(":", 1)
                upstream = socket.create_connection(("127.0.0.1" if host == NAME else host, int(port)))
                if method == "CONNECT":
                    self.connection.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                else:
                    upstream.sendall(head)  # the registry takes the absolute form as it is
                back = threading.Thread(target=_pump, args=(upstream, self.connection), daemon=True)
                back.start()
                _pump(self.connection, upstream)
                back.join(30)
                upstream.close()

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    made = Proxy()
    try:
        yield made
    finally:
        made.close()


@pytest.fixture(autouse=True)
def no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    root = tmp_path_factory.mktemp("registry-proxy-plain")
    with running_registry(root / "registry") as registry:
        push_archive(IMAGE.archive(), "oci-archive", root / "archives", f"{registry.address}/app:1")
        yield registry


def server_cert_for_name(directory: Path, ca: CA) -> tuple[Path, Path]:
    cert, key, csr = directory / "named.crt", directory / "named.key", directory / "named.csr"
    ext = directory / "named.ext"
    ext.write_text(f"subjectAltName=DNS:{NAME},IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={NAME}"
    )
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca.cert), "-CAkey", str(ca.key), "-CAcreateserial",
        "-out", str(cert), "-days", "2", "-extfile", str(ext),
    )  # fmt: skip
    return cert, key


@dataclass
class TLS:
    registry: Registry
    ca: CA


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TLS]:
    root = tmp_path_factory.mktemp("registry-proxy-tls")
    ca = make_ca(root / "ca")
    with running_registry(
        root / "registry", tls=server_cert_for_name(root / "ca", ca), ca=ca.cert
    ) as registry:
        push_archive(IMAGE.archive(), "oci-archive", root / "archives", f"{registry.address}/app:1")
        yield TLS(registry, ca)


def compressed(reference: str, options: RegistryOptions) -> int:
    source = RegistrySource(reference, options)
    try:
        [entry] = source.platforms()
        return source.manifest(entry).compressed_size
    finally:
        source.close()


EXPECTED = sum(len(layer.blob) for layer in IMAGE.layers)


def test_a_plain_registry_is_reached_through_http_proxy_with_its_login(
    plain: Registry, proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = plain.address.rsplit(":", 1)[1]
    monkeypatch.setenv("HTTP_PROXY", f"http://proxy-user:proxy-secret@{proxy.address}")
    options = RegistryOptions(insecure=frozenset({f"{NAME}:{port}"}))
    assert compressed(f"docker://{NAME}:{port}/app:1", options) == EXPECTED
    login = "Basic " + base64.b64encode(b"proxy-user:proxy-secret").decode()
    assert proxy.seen == [("GET", f"http://{NAME}:{port}/v2/", login)]  # one connection, kept alive


def test_a_tls_registry_is_reached_through_a_connect_tunnel(
    tls: TLS, proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = tls.registry.address.rsplit(":", 1)[1]
    monkeypatch.setenv("https_proxy", proxy.address)  # lower case, no scheme: as Docker reads it
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # not for HTTPS
    assert compressed(f"docker://{NAME}:{port}/app:1", RegistryOptions(ca_file=tls.ca.cert)) == EXPECTED
    assert proxy.seen == [("CONNECT", f"{NAME}:{port}", None)]


def test_loopback_is_reached_directly(plain: Registry, proxy: Proxy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://{proxy.address}")
    monkeypatch.setenv("HTTPS_PROXY", f"http://{proxy.address}")
    assert compressed(f"docker://{plain.address}/app:1", RegistryOptions()) == EXPECTED
    assert proxy.seen == []


def test_no_proxy_hosts_are_reached_directly(
    plain: Registry, proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``registry.test`` in NO_PROXY: the client resolves it itself, which it cannot here."""
    port = plain.address.rsplit(":", 1)[1]
    monkeypatch.setenv("HTTP_PROXY", f"http://{proxy.address}")
    monkeypatch.setenv("NO_PROXY", f"example.com, .{NAME}")
    options = RegistryOptions(insecure=frozenset({NAME}), retries=0)
    with pytest.raises(SourceError, match=rf"^registry {NAME}:{port}: cannot connect to {NAME}:{port} \("):
        compressed(f"docker://{NAME}:{port}/app:1", options)
    assert proxy.seen == []


def test_a_proxy_refusing_the_tunnel_is_one_line_without_its_login(
    tls: TLS, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        address = f"127.0.0.1:{listener.getsockname()[1]}"

        def refuse() -> None:
            connection, _ = listener.accept()
            with connection:
                connection.recv(65536)
                connection.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")

        worker = threading.Thread(target=refuse, daemon=True)
        worker.start()
        monkeypatch.setenv("HTTPS_PROXY", f"http://someone:hunter2@{address}")
        port = tls.registry.address.rsplit(":", 1)[1]
        with pytest.raises(SourceError) as caught:
            compressed(f"docker://{NAME}:{port}/app:1", RegistryOptions(ca_file=tls.ca.cert, retries=0))
        worker.join(10)
    message = str(caught.value)
    assert message == (
        f"registry {NAME}:{port}: cannot connect to {NAME}:{port} (the proxy {address} answered 407 to "
        "CONNECT, 1 tries): check the proxy settings (HTTPS_PROXY, HTTP_PROXY, NO_PROXY) and the "
        "proxy's login"
    )
    assert "hunter2" not in message
