"""A small HTTP/1.1 client for the registry client: keep-alive connections (plain, TLS, or through
an HTTP proxy, tunnelled with CONNECT for HTTPS), answers framed by Content-Length, chunked
transfer coding or the connection's close, bodies read on demand.

It imports neither ``http.client`` (which loads the ``email`` package) nor ``ssl`` until a TLS
connection is made: a check of a loopback registry's manifests starts in a few milliseconds."""

from __future__ import annotations

import contextlib
import socket
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ssl

MAX_LINE = 64 << 10  # bytes of a status or header line
MAX_HEADERS = 200
NO_BODY = frozenset({204, 304})


class ProtocolError(Exception):
    """An answer that is not HTTP/1.x, or a body cut short."""


class RemoteDisconnected(ConnectionError):
    """The server closed the connection without answering."""


class TunnelRefused(ConnectionError):
    """The proxy did not open a tunnel to the registry."""


class IncompleteBody(ProtocolError):
    """The connection ended before the body did."""


class Headers(dict[str, str]):
    """Response headers by lower-cased name (a repeated header's values joined by ``, ``)."""

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return super().get(name.lower(), default)

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(name.lower())


class Proxy:
    """An HTTP proxy: ``host``, ``port`` and the ``Proxy-Authorization`` value, if any."""

    def __init__(self, host: str, port: int, authorization: str | None = None) -> None:
        self.host, self.port, self.authorization = host, port, authorization


class Connection:
    """One connection to ``host:port`` (through ``proxy`` when given), TLS when ``context`` is."""

    def __init__(
        self,
        host: str,
        port: int,
        timeout: float,
        context: ssl.SSLContext | None = None,
        proxy: Proxy | None = None,
    ) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.context, self.proxy = context, proxy
        self._sock: socket.socket | None = None
        self._file: Any = None

    @property
    def absolute_targets(self) -> bool:
        """Whether requests name the whole URL (plain HTTP through a proxy)."""
        return self.proxy is not None and self.context is None

    def connect(self) -> None:
        where = (self.proxy.host, self.proxy.port) if self.proxy else (self.host, self.port)
        host = where[0].encode("ascii") if where[0].isascii() else where[0]  # bytes: no idna codec
        sock = socket.create_connection((host, where[1]), timeout=self.timeout)  # type: ignore[arg-type]
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.proxy is not None and self.context is not None:
                self._sock, self._file = sock, sock.makefile("rb")
                self._tunnel()
                self._file.close()
            if self.context is not None:
                sock = self.context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise
        self._sock, self._file = sock, sock.makefile("rb")

    def _tunnel(self) -> None:
        assert self.proxy is not None
        authority = f"{_bracketed(self.host)}:{self.port}"
        lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
        if self.proxy.authorization:
            lines.append(f"Proxy-Authorization: {self.proxy.authorization}")
        assert self._sock is not None
        self._sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        status, _, _ = _status_line(self._file)
        _header_block(self._file)
        if status != 200:
            raise TunnelRefused(f"the proxy {self.proxy.host}:{self.proxy.port} answered {status} to CONNECT")

    def request(self, method: str, target: str, headers: dict[str, str], body: bytes | None) -> None:
        if self._sock is None:
            self.connect()
        assert self._sock is not None
        authority = _bracketed(self.host) + ("" if self.port in (80, 443) else f":{self.port}")
        if self.absolute_targets:
            target = f"http://{authority}{target}"
        lines = [f"{method} {target} HTTP/1.1", f"Host: {authority}", "Accept-Encoding: identity"]
        if self.absolute_targets and self.proxy is not None and self.proxy.authorization:
            lines.append(f"Proxy-Authorization: {self.proxy.authorization}")
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self._sock.sendall(head + body if body else head)

    def getresponse(self, method: str) -> Answer:
        """The answer's status line and headers; its body is read from the answer."""
        status, version, _ = _status_line(self._file)
        headers = _header_block(self._file)
        return Answer(self._file, method, status, version, headers)

    def shut_down(self) -> None:
        """End the connection under a thread reading it: its read fails at once."""
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        sock, self._sock = self._sock, None
        file, self._file = self._file, None
        if file is not None:
            file.close()
        if sock is not None:
            sock.close()


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _line(file: Any) -> bytes:
    line: bytes = file.readline(MAX_LINE + 1)
    if len(line) > MAX_LINE:
        raise ProtocolError("a header line is too long")
    return line


def _status_line(file: Any) -> tuple[int, str, str]:
    line = _line(file)
    if not line:
        raise RemoteDisconnected("the server closed the connection without answering")
    version, _, rest = line.decode("latin-1").strip().partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isascii() or not code.isdigit():
        raise ProtocolError("not an HTTP/1.x answer")
    return int(code), version, reason


def _header_block(file: Any) -> Headers:
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADERS + 1):
        line = _line(file)
        if line in (b"\r\n", b"\n", b""):
            return Headers(headers)
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon:
            continue
        key, value = name.strip().lower(), value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    raise ProtocolError("too many header lines")


class Answer:
    """One answer: ``status``, ``headers``, and its body read with ``read``/``read1``;
    ``isclosed()`` once the body was read to its end, ``will_close`` when the connection serves
    no further request."""

    def __init__(self, file: Any, method: str, status: int, version: str, headers: Headers) -> None:
        self._file = file
        self.status = status
        self.headers = headers
        connection = (headers.get("Connection") or "").lower()
        self.will_close = "close" in connection or (version == "HTTP/1.0" and "keep-alive" not in connection)
        self._chunked = "chunked" in (headers.get("Transfer-Encoding") or "").lower()
        self._left: int | None = None  # bytes of the body (or of the current chunk) still to come
        self._done = False
        if method == "HEAD" or status in NO_BODY or 100 <= status < 200:
            self._done = True
        elif self._chunked:
            self._left = 0
        else:
            length = headers.get("Content-Length")
            if length is not None and length.strip().isascii() and length.strip().isdigit():
                self._left = int(length)
                self._done = self._left == 0
            else:
                self.will_close = True  # the body ends when the connection does

    def isclosed(self) -> bool:
        return self._done

    def _next_chunk(self) -> bool:
        """Ready for the next chunk's bytes; False at the last (the trailers read)."""
        if self._left == 0 and not self._done:
            size = _line(self._file).split(b";", 1)[0].strip()
            if not size:
                raise IncompleteBody("the chunked body ended early")
            try:
                self._left = int(size, 16)
            except ValueError:
                raise ProtocolError("a chunk size is not a number") from None
            if self._left == 0:
                _header_block(self._file)  # trailers
                self._done = True
        return not self._done

    def _chunk_end(self) -> None:
        if self._chunked and self._left == 0 and _line(self._file) not in (b"\r\n", b"\n"):
            raise ProtocolError("a chunk does not end with CRLF")

    def read1(self, amount: int) -> bytes:
        """What has arrived, up to ``amount`` bytes: at least one unless at the body's end."""
        if self._done or amount <= 0:
            return b""
        if self._chunked and not self._next_chunk():
            return b""
        want = amount if self._left is None else min(amount, self._left)
        data: bytes = self._file.read1(want)
        if not data:
            if self._left is None:
                self._done = True
                return b""
            raise IncompleteBody("the connection ended before the body did")
        if self._left is not None:
            self._left -= len(data)
            if self._chunked:
                self._chunk_end()
            elif self._left == 0:
                self._done = True
        return data

    def read(self, amount: int) -> bytes:
        """Up to ``amount`` bytes, fewer only at the body's end."""
        parts: list[bytes] = []
        while amount > 0:
            data = self.read1(amount)
            if not data:
                break
            parts.append(data)
            amount -= len(data)
        return b"".join(parts)

    def close(self) -> None:
        self._done = True
