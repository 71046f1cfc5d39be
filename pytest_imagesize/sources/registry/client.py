"""HTTP to one registry over the OCI distribution API: TLS with the system's CAs plus the
configured ones, plain HTTP only where allowed, retries with backoff, redirects, and the
``WWW-Authenticate`` dance (Basic, or a Bearer token from the realm the registry names).

Every failure is one ``SourceError`` line naming the registry; secrets (passwords, identity
tokens, bearer tokens, Authorization values) never appear in one, and underlying exceptions
are not chained (``from None``)."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from typing import TYPE_CHECKING

from ..model import SourceError
from .http import TunnelRefused
from .reference import Reference, RegistryOptions, plain_http_allowed
from .transport import (
    ConnectFailure,
    Pool,
    PoolClosed,
    Response,
    Stalled,
    TLSFailure,
    TransportError,
    Unanswered,
    exchange,
    proxy_for,
    reason,
    split_netloc,
    split_url,
    tls_failure,
)

if TYPE_CHECKING:
    import ssl

    from .credentials import Credentials

__all__ = [
    "CHUNK",
    "RegistryClient",
    "Response",
    "Stalled",
    "TransportError",
    "parse_challenge",
    "retry_after",
]

CHUNK = 256 << 10  # bytes asked of a body at a time
RETRY_STATUSES = frozenset({429, 502, 503, 504})
BACKOFF = 0.5  # seconds before the first retry; doubled each time
BACKOFF_MAX = 8.0
RETRY_AFTER_MAX = 60.0  # a longer Retry-After is waited this long
MAX_REDIRECTS = 5
MAX_SMALL = 64 << 10  # bytes of a token or error answer read
_PARAM = r'([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))'


class Challenge:
    """A ``WWW-Authenticate`` challenge: ``scheme`` in lower case ("bearer", "basic") and its
    parameters by lower-case name."""

    def __init__(self, scheme: str, params: dict[str, str]) -> None:
        self.scheme, self.params = scheme, params

    def __repr__(self) -> str:
        return f"Challenge({self.scheme!r}, {self.params!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Challenge) and (self.scheme, self.params) == (other.scheme, other.params)

    __hash__ = None  # type: ignore[assignment]


def parse_challenge(header: str | None) -> Challenge | None:
    """The first challenge of a ``WWW-Authenticate`` header."""
    if not header or not header.strip():
        return None
    scheme, _, rest = header.strip().partition(" ")
    params = {m[1].lower(): (m[2] if m[2] else m[3]).replace('\\"', '"') for m in re.finditer(_PARAM, rest)}
    return Challenge(scheme.lower(), params)


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` value asks to wait (delta seconds or an HTTP date), capped at
    ``RETRY_AFTER_MAX``; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # "²" is a digit to isdigit(), not to float()
        return min(float(value), RETRY_AFTER_MAX)
    import email.utils  # only for a date: the email package is not needed otherwise

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    delay = when.timestamp() - (time.time() if now is None else now)
    return min(max(delay, 0.0), RETRY_AFTER_MAX)


class _NoTLS(SourceError):
    """What answers is not TLS (where plain HTTP was tried first)."""


class RegistryClient:
    """Requests to ``reference``'s registry for its repository; thread-safe (layer blobs are
    fetched by several threads at once). ``actions``: what a Bearer token is asked to allow."""

    actions = "pull"

    def __init__(self, reference: Reference, options: RegistryOptions) -> None:
        self.reference = reference
        self.options = options
        self.label = f"registry {reference.registry}"
        self._host = reference.api_host
        self._pools: dict[str, Pool] = {}
        self._base: str | None = None
        self._auth: str | None = None
        self._credentials: Credentials | None = None
        self._looked_up = False
        self._secrets: set[str] = set()
        self._lock = threading.RLock()
        self._closed = False

    # ------------------------------------------------------------------ messages

    def scrub(self, text: str) -> str:
        """``text`` with every secret this client holds blanked, on one line, cut short."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        text = " ".join(text.split())
        return text if len(text) <= 200 else text[:199] + "…"

    def stalled(self, what: str) -> SourceError:
        t = self.options.timeout
        return SourceError(
            f"{self.label} stalled: no data for {t:g} s while reading {what}: try again, "
            f"or raise the registry timeout option (now {t:g} s)"
        )

    def failure(self, response: Response, what: str) -> SourceError:
        """The one line for an answer that is not the one asked for (after retries)."""
        status = response.status
        detail = self._error_detail(response)
        detail = f" ({detail})" if detail else ""
        if status == 401:
            return self._login_error(what)
        if status == 403:
            return SourceError(
                f"{self.label} denies access to {what}{detail}: check that the account may pull "
                f"{self.reference.repository}"
            )
        if status == 404:
            return SourceError(f"{self.label} has no {what}{detail}")
        return SourceError(
            f"{self.label} answered {status} to the request for {what}{detail}: try again later"
        )

    def _error_detail(self, response: Response) -> str:
        try:
            data = response.read(MAX_SMALL)
        except TransportError:
            return ""
        finally:
            response.release()
        try:
            errors = json.loads(data).get("errors")
            first = errors[0]
            return self.scrub(f"{first.get('code', '')}: {first.get('message', '')}".strip(": "))
        except (ValueError, AttributeError, LookupError, TypeError, RecursionError):
            return ""

    def _login_error(self, what: str) -> SourceError:
        registry = self.reference.registry
        if self._credentials is None:
            return SourceError(
                f"{self.label} requires login to read {what}: run `docker login {registry}` or set "
                "DOCKER_CONFIG to a config that has credentials for it"
            )
        return SourceError(
            f"{self.label} refused the credentials from {self._credentials.origin} for {what} "
            f"(wrong password, or no pull access to {self.reference.repository}): "
            f"run `docker login {registry}` again"
        )

    # ------------------------------------------------------------------ transport

    def _context(self, netloc: str) -> ssl.SSLContext:
        import ssl  # only where TLS is spoken

        context = ssl.create_default_context()
        try:
            if self.options.ca_file is not None:
                context.load_verify_locations(cafile=str(self.options.ca_file))
            directory = self.options.certs_dir / netloc
            if directory.is_dir():
                for crt in sorted(directory.glob("*.crt")):
                    context.load_verify_locations(cafile=str(crt))
                for cert in sorted(directory.glob("*.cert")):
                    key = cert.with_suffix(".key")
                    if key.is_file():
                        context.load_cert_chain(str(cert), str(key))
        except (OSError, ssl.SSLError) as exc:
            raise SourceError(
                f"{self.label}: a CA or client certificate cannot be loaded ({reason(exc)}): "
                f"check the ca_file option and {self.options.certs_dir / netloc}"
            ) from None
        return context

    def _pool(self, scheme: str, netloc: str) -> Pool:
        key = f"{scheme}://{netloc}"
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                context = self._context(netloc) if scheme == "https" else None
                proxy = proxy_for(scheme, *split_netloc(scheme, netloc), os.environ)
                if proxy is not None and proxy.authorization:
                    self._secrets.add(proxy.authorization.split(" ", 1)[1])
                pool = Pool(scheme, netloc, self.options.timeout, context, proxy)
                self._pools[key] = pool
            return pool

    def send(
        self, method: str, url: str, headers: dict[str, str], what: str, body: bytes | None = None
    ) -> Response:
        """One request, tried again after 429/502/503/504 (``Retry-After`` honoured) and after a
        failure before any byte of an answer; ``TLSFailure`` for a TLS handshake that failed."""
        scheme, netloc, target = split_url(url)
        if self._closed:  # a download thread finishing after the source was closed
            raise SourceError(f"{self.label}: the request for {what} came after the source was closed")
        pool = self._pool(scheme, netloc)
        attempt = 0
        while True:
            try:
                response = exchange(pool, method, target, headers, body)
            except PoolClosed:
                raise SourceError(
                    f"{self.label}: the request for {what} came after the source was closed"
                ) from None
            except (ConnectFailure, Unanswered) as exc:
                tls = tls_failure(exc.error)
                if tls is not None:
                    raise tls from None
                if attempt < self.options.retries:
                    time.sleep(min(BACKOFF * 2**attempt, BACKOFF_MAX))
                    attempt += 1
                    continue
                raise self._connection_error(exc, netloc, what) from None
            if response.status in RETRY_STATUSES and attempt < self.options.retries:
                delay = retry_after(response.headers.get("Retry-After"))
                response.drain()
                response.release()
                time.sleep(delay if delay is not None else min(BACKOFF * 2**attempt, BACKOFF_MAX))
                attempt += 1
                continue
            return response

    def _connection_error(self, exc: ConnectFailure | Unanswered, netloc: str, what: str) -> SourceError:
        t = self.options.timeout
        tries = f"{self.options.retries + 1} tries"
        if isinstance(exc, Unanswered):
            if exc.stalled:
                return self.stalled(f"the answer to the request for {what} ({tries})")
            return SourceError(
                f"{self.label} closed the connection before answering the request for {what} ({tries}): "
                "try again later"
            )
        if exc.timeout:
            return SourceError(
                f"{self.label}: no connection to {netloc} within {t:g} s ({tries}): check the address, "
                f"or raise the registry timeout option (now {t:g} s)"
            )
        if isinstance(exc.error, TunnelRefused):
            fix = "check the proxy settings (HTTPS_PROXY, HTTP_PROXY, NO_PROXY) and the proxy's login"
        else:
            fix = "check that the registry runs at that address"
        return SourceError(f"{self.label}: cannot connect to {netloc} ({reason(exc.error)}, {tries}): {fix}")

    def _follow(self, url: str, headers: dict[str, str], what: str) -> Response:
        """``send``, following redirects; the Authorization header goes to the first origin only."""
        origin = split_url(url)[:2]
        for _ in range(MAX_REDIRECTS + 1):
            response = self.send("GET", url, headers, what)
            location = response.headers.get("Location")
            if response.status not in (301, 302, 303, 307, 308) or not location:
                return response
            response.drain()
            response.release()
            import urllib.parse  # a redirect's Location may be relative

            url = urllib.parse.urljoin(url, location)
            if split_url(url)[:2] != origin:
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        raise SourceError(f"{self.label} redirected the request for {what} more than {MAX_REDIRECTS} times")

    def _connect(self) -> str:
        """The API's base URL, found once: HTTPS; where plain HTTP is allowed, plain HTTP first
        and HTTPS when what answers there is not a registry (a TLS port answers 400 or hangs up),
        so that a loopback registry of plain HTTP costs no TLS handshake."""
        with self._lock:
            if self._base is not None:
                return self._base
            if plain_http_allowed(self.reference.registry, self.options.insecure):
                plain = f"http://{self._host}"
                failed: SourceError | None = None
                status = 0
                try:
                    status = self._probe(plain)
                except SourceError as exc:
                    failed = exc
                if status in (200, 401):
                    self._base = plain
                    return plain
                try:
                    self._base = self._https(plain_allowed=True)
                except _NoTLS:
                    raise failed or self._not_a_registry(status, plain) from None
                return self._base
            self._base = self._https(plain_allowed=False)
            return self._base

    def _probe(self, base: str) -> int:
        response = self.send("GET", base + "/v2/", {}, "the API root /v2/")
        response.drain()
        response.release()
        return response.status

    def _not_a_registry(self, status: int, base: str) -> SourceError:
        return SourceError(
            f"{self.label} answered {status} at {base}/v2/: it is not a registry "
            "(OCI distribution API) or not at that address"
        )

    def _https(self, plain_allowed: bool) -> str:
        base = f"https://{self._host}"
        try:
            status = self._probe(base)
        except TLSFailure as tls:
            if tls.untrusted:
                raise SourceError(
                    f"{self.label}: its TLS certificate is not trusted ({tls.reason}): add its CA "
                    f"with the ca_file option or as "
                    f"{self.options.certs_dir / self.reference.registry / 'ca.crt'}"
                ) from None
            if plain_allowed:
                raise _NoTLS(tls.reason) from None
            raise SourceError(
                f"{self.label} does not answer HTTPS ({tls.reason}): if it serves plain HTTP, "
                "name it in the insecure option"
            ) from None
        if status not in (200, 401):
            raise self._not_a_registry(status, base)
        return base

    # ------------------------------------------------------------------ requests with auth

    def get(
        self, path: str, what: str, accept: str | None = None, extra: dict[str, str] | None = None
    ) -> Response:
        """GET ``path`` of the API (``/v2/...``) with ``extra`` headers, logging in when the
        registry asks; the answer may be of any status but 401 (a second 401 is ``SourceError``)."""
        url = self._connect() + path
        renewed = False
        while True:
            headers = {"Accept": accept} if accept else {}
            headers.update(extra or {})
            auth = self._auth
            if auth is not None:
                headers["Authorization"] = auth
            try:
                response = self._follow(url, headers, what)
            except TLSFailure as tls:
                raise SourceError(f"{self.label}: TLS failed while reading {what} ({tls.reason})") from None
            if response.status != 401:
                return response
            challenge = parse_challenge(response.headers.get("WWW-Authenticate"))
            response.drain()
            response.release()
            if renewed:
                raise self._login_error(what)
            self._authenticate(challenge, auth, what)
            renewed = True

    def _credentials_for_registry(self) -> Credentials | None:
        if not self._looked_up:
            from .credentials import config_path, lookup  # a login needs them, a public image not

            self._credentials = lookup(self.reference.registry, config_path(self.options.docker_config))
            self._looked_up = True
            self._secrets.update(self._credentials.secrets() if self._credentials is not None else ())
        return self._credentials

    def _authenticate(self, challenge: Challenge | None, failed: str | None, what: str) -> None:
        with self._lock:
            if self._auth != failed:  # another request logged in meanwhile
                return
            if challenge is None:
                raise SourceError(
                    f"{self.label} refused the request for {what} (401) without saying how to log in"
                )
            credentials = self._credentials_for_registry()
            if challenge.scheme == "basic":
                if credentials is None or not credentials.password:
                    raise self._login_error(what)
                if failed is not None:
                    raise self._login_error(what)
                self._auth = self._basic(credentials)
            elif challenge.scheme == "bearer":
                self._auth = "Bearer " + self._token(challenge, credentials, what)
            else:
                raise SourceError(
                    f"{self.label} asks for {challenge.scheme} authentication, which is not supported "
                    "(Basic and Bearer are)"
                )

    def _basic(self, credentials: Credentials) -> str:
        import base64

        encoded = base64.b64encode(f"{credentials.username}:{credentials.password}".encode()).decode()
        self._secrets.add(encoded)
        return "Basic " + encoded

    def _token(self, challenge: Challenge, credentials: Credentials | None, what: str) -> str:
        realm = challenge.params.get("realm", "")
        import urllib.parse  # a login's URLs and forms

        parts = urllib.parse.urlsplit(realm)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SourceError(f"{self.label} names no usable token realm ({realm!r}) in its challenge")
        if parts.scheme == "http" and not plain_http_allowed(parts.netloc, self.options.insecure):
            raise SourceError(
                f"{self.label} sends logins to a plain-HTTP token realm {parts.netloc}: refused; "
                "name that host in the insecure option if this is meant"
            )
        fields = {"scope": f"repository:{self.reference.repository}:{self.actions}"}
        if "service" in challenge.params:
            fields["service"] = challenge.params["service"]
        headers: dict[str, str] = {}
        body: bytes | None = None
        method = "GET"
        if credentials is not None and credentials.identity_token:
            method = "POST"
            fields |= {
                "grant_type": "refresh_token",
                "refresh_token": credentials.identity_token,
                "client_id": "pytest-imagesize",
            }
            body = urllib.parse.urlencode(fields).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            url = realm
        else:
            if credentials is not None:
                headers["Authorization"] = self._basic(credentials)
            separator = "&" if parts.query else "?"
            url = realm + separator + urllib.parse.urlencode(fields)
        token_what = f"a token for {what} from {parts.netloc}"
        try:
            response = (
                self.send(method, url, headers, token_what, body)
                if body
                else self._follow(url, headers, token_what)
            )
        except TLSFailure as tls:
            raise SourceError(
                f"{self.label}: TLS with its token service {parts.netloc} failed ({tls.reason}): "
                "add its CA with the ca_file option"
            ) from None
        if response.status in (401, 403):
            response.drain()
            response.release()
            raise self._login_error(what)
        if response.status != 200:
            raise self.failure(response, token_what)
        try:
            data = response.read(MAX_SMALL + 1)
        except TransportError:
            raise SourceError(
                f"{self.label}: the token service {parts.netloc} broke off its answer"
            ) from None
        finally:
            response.release()
        try:
            document = json.loads(data)
            token = document.get("token") or document.get("access_token")
        except (ValueError, AttributeError, RecursionError):
            token = None
        if not isinstance(token, str) or not token or len(data) > MAX_SMALL:
            raise SourceError(f"{self.label}: the token service {parts.netloc} sent no token")
        self._secrets.add(token)
        return token

    def close(self) -> None:
        """Close every connection, those in use too (a thread reading one wakes with an error);
        no request is sent afterwards."""
        with self._lock:
            self._closed = True
            for pool in self._pools.values():
                pool.close()
            self._pools.clear()
