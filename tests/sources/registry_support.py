"""Real components for the registry source's tests: Debian's docker-registry (distribution 2.8) on
127.0.0.1 with a config written here (plain HTTP, TLS with a CA made here, htpasswd Basic, or
token auth from a token service in a thread), images pushed with skopeo, and a tiny HTTP server
whose answers each test writes (faults)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.server
import json
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.fake_engine import FakeImage

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
ISSUER = "imagesize-test-issuer"
SERVICE = "imagesize-test-registry"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def need(program: str) -> str:
    found = shutil.which(program)
    if found is None:
        pytest.fail(f"{program} is missing: install it (scripts/ensure-test-tools)")
    return found


# ---------------------------------------------------------------------------- certificates


@dataclass(frozen=True)
class CA:
    cert: Path
    key: Path


def _openssl(*args: str, stdin: bytes | None = None) -> bytes:
    done = subprocess.run([need("openssl"), *args], input=stdin, capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def make_ca(directory: Path, name: str = "imagesize test CA") -> CA:
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "ca.crt", directory / "ca.key"
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
        "-days", "2", "-subj", f"/CN={name}",
    )  # fmt: skip
    return CA(cert, key)


def server_cert(directory: Path, ca: CA, ip: str = "127.0.0.1") -> tuple[Path, Path]:
    """A server certificate for ``ip`` signed by ``ca``: (cert, key)."""
    cert, key, csr = directory / "server.crt", directory / "server.key", directory / "server.csr"
    ext = directory / "server.ext"
    ext.write_text(f"subjectAltName=IP:{ip}\nextendedKeyUsage=serverAuth\n")
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", "/CN=registry"
    )
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca.cert), "-CAkey", str(ca.key), "-CAcreateserial",
        "-out", str(cert), "-days", "2", "-extfile", str(ext),
    )  # fmt: skip
    return cert, key


def htpasswd_line(user: str, password: str) -> str:
    """``user:<bcrypt hash>`` as distribution's htpasswd auth wants it: Python's bcrypt when
    installed, else the C library's crypt (libxcrypt does bcrypt)."""
    try:
        import bcrypt  # type: ignore[import-not-found]

        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()
    except ImportError:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            try:
                import crypt
            except ImportError:
                pytest.skip("no bcrypt: install Python's bcrypt package to test htpasswd logins")
        hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=32))
    assert hashed.startswith("$2"), "this C library's crypt does no bcrypt: install Python's bcrypt"
    return f"{user}:{hashed}"


# ---------------------------------------------------------------------------- token service


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenService:
    """Issues RS256 JWTs the registry trusts (its cert is the registry's rootcertbundle) to
    ``user``/``password`` (Basic) or to ``identity_token`` (OAuth refresh-token POST), and
    anonymous tokens with no access; counts what it was asked."""

    def __init__(self, directory: Path, user: str, password: str, identity_token: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.key, self.cert = directory / "token.key", directory / "token.crt"
        _openssl(
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(self.key), "-out",
            str(self.cert), "-days", "2", "-subj", "/CN=imagesize token issuer",
        )  # fmt: skip
        der = _openssl("x509", "-in", str(self.cert), "-outform", "DER")
        self.x5c = base64.b64encode(der).decode()
        self.user, self.password, self.identity_token = user, password, identity_token
        self.requests: list[
            tuple[str, str]
        ] = []  # (method, who: user name, "refresh", "anonymous", "refused")
        self.server = Server(self._answer)
        self.realm = f"http://{self.server.address}/token"

    def _jwt(self, subject: str, scope: str) -> str:
        access = []
        if subject and scope.startswith("repository:"):
            _, name, actions = scope.split(":", 2)
            access.append({"type": "repository", "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT", "x5c": [self.x5c]}
        claims = {
            "iss": ISSUER, "sub": subject, "aud": SERVICE, "exp": now + 600, "nbf": now - 10,
            "iat": now, "jti": _b64url(hashlib.sha256(str(time.monotonic_ns()).encode()).digest()[:12]),
            "access": access,
        }  # fmt: skip
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = _openssl("dgst", "-sha256", "-sign", str(self.key), stdin=signing_input.encode())
        return f"{signing_input}.{_b64url(signature)}"

    def _answer(self, request: Request) -> Answer:
        if request.method == "POST":
            form = urllib.parse.parse_qs(request.body.decode())
            if form.get("refresh_token") == [self.identity_token]:
                self.requests.append(("POST", "refresh"))
                token = self._jwt(self.user, form.get("scope", [""])[0])
                return Answer(200, json.dumps({"access_token": token}).encode())
            self.requests.append(("POST", "refused"))
            return Answer(401, b'{"error": "invalid refresh token"}')
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.path).query)
        scope = query.get("scope", [""])[0]
        auth = request.headers.get("Authorization", "")
        if not auth:
            self.requests.append(("GET", "anonymous"))
            return Answer(200, json.dumps({"token": self._jwt("", scope)}).encode())
        user, _, password = base64.b64decode(auth.split(" ", 1)[1]).decode().partition(":")
        if (user, password) != (self.user, self.password):
            self.requests.append(("GET", "refused"))
            return Answer(401, b'{"details": "incorrect username or password"}')
        self.requests.append(("GET", user))
        return Answer(200, json.dumps({"token": self._jwt(user, scope), "expires_in": 600}).encode())

    def close(self) -> None:
        self.server.close()


# ---------------------------------------------------------------------------- docker-registry


@dataclass
class Registry:
    """A running docker-registry: ``address`` is host:port; ``log`` holds its access log."""

    address: str
    log: Path
    root: Path
    process: subprocess.Popen[bytes]
    scheme: str = "http"

    def log_mark(self) -> int:
        return self.log.stat().st_size

    def requests_since(self, mark: int) -> list[tuple[str, str]]:
        """(method, path) of the requests the registry logged after ``mark``."""
        text = self.log.read_bytes()[mark:].decode(errors="replace")
        return re.findall(r'"(GET|HEAD|PUT|POST|PATCH|DELETE) (/v2/\S*) HTTP/', text)


@contextlib.contextmanager
def running_registry(
    root: Path,
    *,
    tls: tuple[Path, Path] | None = None,
    ca: Path | None = None,
    htpasswd: str | None = None,
    token: TokenService | None = None,
    delete: bool = True,
) -> Iterator[Registry]:
    binary = need("docker-registry")
    root.mkdir(parents=True, exist_ok=True)
    address = f"127.0.0.1:{free_port()}"
    lines = [
        "version: 0.1",
        "log:\n  level: info\n  accesslog:\n    disabled: false",
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n  delete:\n"
        f"    enabled: {str(delete).lower()}",
        f"http:\n  addr: {address}\n  secret: imagesize-test",
    ]
    if tls is not None:
        lines.append(f"  tls:\n    certificate: {tls[0]}\n    key: {tls[1]}")
    if htpasswd is not None:
        (root / "htpasswd").write_text(htpasswd + "\n")
        lines.append(f"auth:\n  htpasswd:\n    realm: imagesize-test\n    path: {root / 'htpasswd'}")
    if token is not None:
        lines.append(
            f"auth:\n  token:\n    realm: {token.realm}\n    service: {SERVICE}\n    issuer: {ISSUER}\n"
            f"    rootcertbundle: {token.cert}"
        )
    config = root / "config.yml"
    config.write_text("\n".join(lines) + "\n")
    log_path = root / "registry.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=log)
    scheme = "https" if tls is not None else "http"
    context = ssl.create_default_context(cafile=str(ca)) if ca is not None else None
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"{scheme}://{address}/v2/", timeout=1, context=context).close()
                break
            except urllib.error.HTTPError:  # 401: up, and asking for a login
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail(f"docker-registry did not start: {log_path.read_text()[-2000:]}")
                time.sleep(0.1)
        yield Registry(address, log_path, root, process, scheme)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# ---------------------------------------------------------------------------- images


def skopeo(*args: str) -> str:
    done = subprocess.run([need("skopeo"), *args], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"skopeo {' '.join(args)}: {done.stderr}"
    return done.stdout


def push_archive(archive: bytes, transport: str, directory: Path, dest: str, *extra: str) -> None:
    """Push an image archive (``oci-archive`` or ``docker-archive``) to ``dest`` (host/repo:tag)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{hashlib.sha256(archive).hexdigest()[:12]}.tar"
    path.write_bytes(archive)
    skopeo("copy", "--quiet", "--dest-tls-verify=false", *extra, f"{transport}:{path}", f"docker://{dest}")


def inspect_raw(reference: str, *extra: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", *extra, reference))
    return data


def registry_compressed_sizes(registry: str, name: str, *extra: str) -> dict[str, int]:
    """What skopeo finds: manifest digest -> sum of its layer sizes (for an index, each platform's
    manifest fetched by digest; attestations left out)."""
    top = inspect_raw(f"docker://{registry}/{name}", *extra)
    if "manifests" not in top:
        return {"": sum(int(layer["size"]) for layer in top["layers"])}
    sizes = {}
    for entry in top["manifests"]:
        if (entry.get("annotations") or {}).get("vnd.docker.reference.type") == "attestation-manifest":
            continue
        repository = name.split(":")[0].split("@")[0]
        manifest = inspect_raw(f"docker://{registry}/{repository}@{entry['digest']}", *extra)
        sizes[entry["digest"]] = sum(int(layer["size"]) for layer in manifest["layers"])
    return sizes


@dataclass
class Platformed:
    image: FakeImage
    architecture: str
    variant: str = ""


def write_index_layout(directory: Path, images: list[Platformed], attestation: bool = True) -> str:
    """An OCI layout whose index.json points to an image index of ``images`` (each a platform
    manifest), plus an attestation manifest (platform unknown/unknown) when asked; the index's
    digest."""
    blobs = directory / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)

    def put(data: bytes) -> str:
        digest = sha256(data)
        (blobs / digest.split(":")[1]).write_bytes(data)
        return digest

    media = {"tar": "", "gzip": "+gzip", "zstd": "+zstd"}
    entries = []
    for item in images:
        config = json.loads(item.image.config_blob)
        config["architecture"] = item.architecture
        if item.variant:
            config["variant"] = item.variant
        config_bytes = json.dumps(config, sort_keys=True).encode()
        layers = [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar" + media[layer.compression],
                "digest": put(layer.blob),
                "size": len(layer.blob),
            }
            for layer in item.image.layers
        ]
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": put(config_bytes), "size": len(config_bytes)},
                "layers": layers,
            }
        ).encode()
        platform = {"os": "linux", "architecture": item.architecture}
        if item.variant:
            platform["variant"] = item.variant
        entries.append(
            {"mediaType": OCI_MANIFEST, "digest": put(manifest), "size": len(manifest), "platform": platform}
        )
    if attestation:
        statement = b'{"_type": "https://in-toto.io/Statement/v0.1", "predicateType": "x"}'
        config_bytes = (
            b'{"architecture": "unknown", "os": "unknown", "rootfs": {"type": "layers", "diff_ids": []}}'
        )
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": put(config_bytes), "size": len(config_bytes)},
                "layers": [
                    {
                        "mediaType": "application/vnd.in-toto+json",
                        "digest": put(statement),
                        "size": len(statement),
                    }
                ],
            }
        ).encode()
        entries.append(
            {
                "mediaType": OCI_MANIFEST,
                "digest": put(manifest),
                "size": len(manifest),
                "platform": {"os": "unknown", "architecture": "unknown"},
                "annotations": {
                    "vnd.docker.reference.type": "attestation-manifest",
                    "vnd.docker.reference.digest": entries[0]["digest"],
                },
            }
        )
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()
    digest = put(index)
    top = {"schemaVersion": 2, "manifests": [{"mediaType": OCI_INDEX, "digest": digest, "size": len(index)}]}
    (directory / "index.json").write_text(json.dumps(top))
    (directory / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return digest


# ---------------------------------------------------------------------------- a server of our own


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    handler: http.server.BaseHTTPRequestHandler = field(repr=False)


@dataclass
class Answer:
    """What to answer: a status, a body, headers; ``send`` (when set) writes the answer itself
    instead (to drop the connection or stall)."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    send: Callable[[http.server.BaseHTTPRequestHandler], None] | None = None


class Server:
    """An HTTP server on 127.0.0.1 in a thread, answering every request with ``route(request)``;
    ``log`` lists the requests as (method, path, headers). ``release`` is set at close, for
    handlers that stall until then."""

    def __init__(self, route: Callable[[Request], Answer]) -> None:
        self.log: list[tuple[str, str, dict[str, str]]] = []
        self.release = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items()}
                outer.log.append((self.command, self.path, headers))
                answer = route(Request(self.command, self.path, headers, body, self))
                if answer.send is not None:
                    answer.send(self)
                    return
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                if "Content-Length" not in answer.headers:
                    self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(answer.body)

            do_GET = do_POST = do_HEAD = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.address = f"127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def paths(self, method: str = "GET") -> list[str]:
        return [path for m, path, _ in self.log if m == method]

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


class FakeRegistry:
    """A registry of our own over ``Server`` serving one image (manifest, config, blobs) as
    stored in ``blobs``; ``faults`` maps a path to an answer that replaces the normal one."""

    def __init__(self, manifests: dict[str, bytes], blobs: dict[str, bytes], repository: str = "app") -> None:
        self.manifests = manifests  # tag or digest -> bytes
        self.blobs = blobs
        self.repository = repository
        self.faults: dict[str, Callable[[Request], Answer]] = {}
        self.auth: str | None = None  # the Authorization value every request must carry (Basic)
        self.server = Server(self._route)
        self.address = self.server.address

    def _route(self, request: Request) -> Answer:
        path = urllib.parse.urlsplit(request.path).path
        if self.auth is not None and request.headers.get("Authorization") != self.auth:
            return Answer(401, b"{}", {"WWW-Authenticate": 'Basic realm="fake"'})
        fault = self.faults.get(path)
        if fault is not None:
            return fault(request)
        if path == "/v2/":
            return Answer(200, b"{}")
        prefix = f"/v2/{self.repository}/"
        if path.startswith(prefix + "manifests/"):
            ref = path.rsplit("/", 1)[1]
            data = self.manifests.get(ref)
            if data is None:
                return Answer(
                    404, b'{"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}'
                )
            try:
                kind = json.loads(data).get("mediaType", OCI_MANIFEST)
            except ValueError:
                kind = OCI_MANIFEST
            return Answer(200, data, {"Content-Type": kind, "Docker-Content-Digest": sha256(data)})
        if path.startswith(prefix + "blobs/"):
            blob = self.blobs.get(path.rsplit("/", 1)[1])
            if blob is None:
                return Answer(404, b'{"errors": [{"code": "BLOB_UNKNOWN", "message": "blob unknown"}]}')
            return Answer(200, blob, {"Content-Type": "application/octet-stream"})
        if path.startswith(prefix + "tags/list"):
            tags = [t for t in self.manifests if not t.startswith("sha256:")]
            return Answer(200, json.dumps({"name": self.repository, "tags": tags}).encode())
        return Answer(404, b'{"errors": [{"code": "NAME_UNKNOWN", "message": "repository name not known"}]}')

    def blob_gets(self) -> list[str]:
        return [p for p in self.server.paths("GET") if "/blobs/" in p]

    def close(self) -> None:
        self.server.close()


def fake_registry_of(image: FakeImage, tag: str = "1") -> tuple[FakeRegistry, dict[str, Any]]:
    """A ``FakeRegistry`` serving ``image`` (OCI layout) as ``app:<tag>``; and its manifest."""
    config = image.config_blob
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": sha256(config), "size": len(config)},
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": sha256(layer.blob),
                "size": len(layer.blob),
            }
            for layer in image.layers
        ],
    }
    data = json.dumps(manifest).encode()
    blobs = {sha256(layer.blob): layer.blob for layer in image.layers} | {sha256(config): config}
    return FakeRegistry({tag: data, sha256(data): data}, blobs), manifest
