"""Connections for the registry client: a pool of keep-alive connections per origin, answers whose
bodies are read on demand (``Response``), the proxy a request goes through (``HTTPS_PROXY``,
``HTTP_PROXY``, ``NO_PROXY`` as Docker reads them), and what a failed connection or TLS handshake
was, in words. ``ssl`` is imported only where TLS is used."""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..model import SourceError
from .http import Answer, Connection, ProtocolError, Proxy, RemoteDisconnected, TunnelRefused

if TYPE_CHECKING:
    import ssl

MAX_DRAIN = 1 << 20  # bytes of an unwanted answer read so that its connection serves again


class TransportError(Exception):
    """A body that could not be read to its end: the connection dropped."""


class Stalled(TransportError):
    """No byte of a body within the timeout."""


class ConnectFailure(Exception):  # no connection (``timeout``: none within the timeout)
    def __init__(self, error: BaseException, timeout: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.timeout = timeout


class Unanswered(Exception):  # connected, no answer (``stalled``: none within the timeout)
    def __init__(self, error: BaseException, stalled: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.stalled = stalled


class PoolClosed(Exception):
    """A request after the client was closed (a download stopped early)."""


class Response:
    """An answer whose body is read on demand; ``release()`` hands its connection back for the
    next request once the body was read to its end (else closes it)."""

    def __init__(self, answer: Answer, connection: Connection, pool: Pool) -> None:
        self._answer = answer
        self._connection: Connection | None = connection
        self._pool = pool
        self.status = answer.status
        self.headers = answer.headers

    def _reading(self, read: Any, amount: int) -> bytes:
        try:
            data: bytes = read(amount)
        except TimeoutError:
            raise Stalled("no data within the timeout") from None
        except (OSError, ProtocolError, ValueError) as exc:
            raise TransportError(type(exc).__name__) from None
        return data

    def read(self, amount: int) -> bytes:
        """Up to ``amount`` bytes, fewer only at the body's end."""
        return self._reading(self._answer.read, amount)

    def read1(self, amount: int) -> bytes:
        """What has arrived, up to ``amount`` bytes (at least one, unless at the end)."""
        return self._reading(self._answer.read1, amount)

    def drain(self) -> None:
        """Read the rest of a small body so that the connection serves again."""
        try:
            self._answer.read(MAX_DRAIN)
        except (OSError, ProtocolError, ValueError):
            self.close()

    def release(self) -> None:
        """Done with this answer: its connection goes back to the pool when the body was read
        whole and the server keeps it open, else it is closed."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if self._answer.isclosed() and not self._answer.will_close:
            self._pool.put(connection)
        else:
            self._answer.close()
            self._pool.discard(connection)

    def close(self) -> None:
        """Done, the body unread: the connection is closed."""
        connection, self._connection = self._connection, None
        self._answer.close()
        if connection is not None:
            self._pool.discard(connection)


def split_netloc(scheme: str, netloc: str) -> tuple[str, int]:
    """``host[:port]`` (``[v6]:port``) as host and port, the scheme's port by default."""
    host, port = netloc.rpartition("@")[2], ""
    if host.startswith("[") and "]" in host:
        host, _, rest = host[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif host.count(":") == 1:
        host, port = host.split(":")
    number = int(port) if port.isascii() and port.isdigit() and 0 < int(port) < 65536 else 0
    return host.lower(), number or (443 if scheme == "https" else 80)


def split_url(url: str) -> tuple[str, str, str]:
    """``scheme://netloc/path?query`` as (scheme in lower case, netloc, ``/path?query``); the
    fragment left out. ``urllib.parse`` is not imported for it (it loads ``ipaddress``)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "", "", url
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    netloc, target = rest[:end], rest[end:].partition("#")[0]
    if not target.startswith("/"):
        target = "/" + target
    return scheme.lower(), netloc, target


class Pool:
    """Connections to one origin (``scheme://netloc``), handed out one request at a time. Once
    closed, a connection handed back is closed, and those in use are shut down (a thread blocked
    reading one wakes with an error)."""

    def __init__(
        self, scheme: str, netloc: str, timeout: float, context: ssl.SSLContext | None, proxy: Proxy | None
    ) -> None:
        self.scheme, self.netloc = scheme, netloc
        self.host, self.port = split_netloc(scheme, netloc)
        self._timeout = timeout
        self._context = context
        self._proxy = proxy
        self._idle: list[Connection] = []
        self._busy: set[Connection] = set()
        self._closed = False
        self._lock = threading.Lock()

    def take(self) -> tuple[Connection, bool]:
        """A connection, and whether it served before (an idle one), connected."""
        with self._lock:
            if self._closed:
                raise PoolClosed()
            if self._idle:
                connection = self._idle.pop()
                self._busy.add(connection)
                return connection, True
        connection = Connection(self.host, self.port, self._timeout, self._context, self._proxy)
        try:
            connection.connect()
        except TimeoutError as exc:
            connection.close()
            raise ConnectFailure(exc, timeout=True) from None
        except (OSError, ProtocolError, ValueError) as exc:
            connection.close()
            raise ConnectFailure(exc, timeout=False) from None
        with self._lock:
            if self._closed:
                connection.close()
                raise PoolClosed()
            self._busy.add(connection)
        return connection, False

    def put(self, connection: Connection) -> None:
        """``connection`` is free again: kept for the next request, or closed when the pool is."""
        with self._lock:
            self._busy.discard(connection)
            if not self._closed:
                self._idle.append(connection)
                return
        connection.close()

    def discard(self, connection: Connection) -> None:
        """``connection`` serves no more: closed."""
        with self._lock:
            self._busy.discard(connection)
        connection.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            busy = list(self._busy)
        for connection in idle:
            connection.close()
        for connection in busy:
            connection.shut_down()


def exchange(pool: Pool, method: str, target: str, headers: dict[str, str], body: bytes | None) -> Response:
    """The request sent on a connection of ``pool``, and its answer (status and headers read); an
    idle connection the server closed meanwhile is replaced once, uncounted."""
    while True:
        connection, reused = pool.take()
        try:
            connection.request(method, target, headers, body)
            answer = connection.getresponse(method)
        except TimeoutError as exc:
            pool.discard(connection)
            raise Unanswered(exc, stalled=True) from None
        except (OSError, ProtocolError, ValueError) as exc:
            pool.discard(connection)
            if reused and isinstance(exc, (ConnectionError, RemoteDisconnected)):
                continue
            raise Unanswered(exc, stalled=False) from None
        return Response(answer, connection, pool)


# ---------------------------------------------------------------------------- proxies


def _no_proxy_match(host: str, port: int, entries: str) -> bool:
    host = host.lower().strip("[]")
    address = _address(host)
    for raw in entries.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        if "/" in entry and address is not None:  # a CIDR block
            import ipaddress

            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        name, entry_port = entry, None
        if entry.startswith("[") and "]" in entry:
            name, _, rest = entry[1:].partition("]")
            entry_port = rest[1:] if rest.startswith(":") else None
        elif entry.count(":") == 1:
            name, entry_port = entry.split(":")
        if entry_port is not None and entry_port != str(port):
            continue
        name = name.removeprefix("*")
        if address is not None:
            if _address(name) == address:
                return True
            continue
        if name.startswith("."):
            if host.endswith(name) or host == name[1:]:
                return True
        elif host == name or host.endswith("." + name):
            return True
    return False


def _address(host: str) -> Any:
    import ipaddress

    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _loopback(host: str) -> bool:
    host = host.lower().strip("[]")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    address = _address(host) if host[:1].isdigit() or ":" in host else None
    return address is not None and address.is_loopback


def proxy_for(scheme: str, host: str, port: int, environ: Mapping[str, str]) -> Proxy | None:
    """The HTTP proxy a request to ``scheme://host:port`` goes through, as Docker (Go's
    ``httpproxy``) reads the environment: ``HTTPS_PROXY``/``HTTP_PROXY`` (upper case first),
    except for loopback hosts and hosts ``NO_PROXY`` matches (``*``, a domain and its
    subdomains, ``.domain``, ``host:port``, an IP address or a CIDR block). ``SourceError`` for a
    proxy that is not ``http://``."""
    name = "HTTPS_PROXY" if scheme == "https" else "HTTP_PROXY"
    value = environ.get(name) or environ.get(name.lower()) or ""
    if not value.strip() or _loopback(host):
        return None
    if _no_proxy_match(host, port, environ.get("NO_PROXY") or environ.get("no_proxy") or ""):
        return None
    import urllib.parse

    url = value.strip() if "://" in value else "http://" + value.strip()
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise SourceError(
            f"{name}: only an http:// proxy (host:port) is supported, not {parts.scheme}://: "
            "set it to the proxy's http:// address"
        )
    try:
        proxy_port = parts.port or 80
    except ValueError:
        raise SourceError(f"{name}: the proxy's port is not a number: set it to http://HOST:PORT") from None
    authorization = None
    if parts.username is not None:
        import base64

        login = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
        authorization = "Basic " + base64.b64encode(login.encode()).decode()
    return Proxy(parts.hostname, proxy_port, authorization)


# ---------------------------------------------------------------------------- failures in words


class TLSFailure(Exception):
    def __init__(self, untrusted: bool, reason: str) -> None:
        super().__init__(reason)
        self.untrusted = untrusted
        self.reason = reason


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it wraps (args, reason, cause, context), breadth first."""
    seen: list[BaseException] = []
    queue = [exc]
    while queue and len(seen) < 20:
        item = queue.pop(0)
        if any(item is s for s in seen):
            continue
        seen.append(item)
        inner = [getattr(item, "reason", None), item.__cause__, item.__context__, *item.args]
        queue.extend(i for i in inner if isinstance(i, BaseException))
    return seen


def reason(exc: BaseException) -> str:
    """What went wrong, in a few words (an OS error's text, a TLS failure's reason)."""
    ssl = sys.modules.get("ssl")  # no TLS was tried when it is not loaded
    for item in _chain(exc):
        if isinstance(item, TunnelRefused):
            return str(item)
        if ssl is not None and isinstance(item, ssl.SSLCertVerificationError):
            return str(item.verify_message or item.reason)
        if ssl is not None and isinstance(item, ssl.SSLError):
            return str(item.reason or item.strerror or type(item).__name__).lower().replace("_", " ")
        if isinstance(item, OSError) and item.strerror:
            return str(item.strerror)
    return type(exc).__name__


def tls_failure(exc: BaseException) -> TLSFailure | None:
    """The TLS handshake's failure ``exc`` is, if it is one."""
    ssl = sys.modules.get("ssl")
    if ssl is None:
        return None
    chain = _chain(exc)
    if not any(isinstance(i, ssl.SSLError) for i in chain):
        return None
    untrusted = any(isinstance(i, ssl.SSLCertVerificationError) for i in chain) or "certificate" in str(exc)
    return TLSFailure(untrusted, reason(exc))
