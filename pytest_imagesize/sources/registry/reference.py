"""A registry image reference (``docker://host[:port]/repo[:tag|@sha256:...]``, the prefix
optional) parsed as Docker reads it, and the options a registry client is given."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, NamedTuple

from ..model import SourceError

if TYPE_CHECKING:
    from pathlib import Path

PREFIX = "docker://"
DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
DOCKER_HUB_KEY = "https://index.docker.io/v1/"  # how the Docker config names Docker Hub
# patterns, compiled on first use (``re`` caches them)
_COMPONENT = r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$"
_TAG = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"
_DIGEST = r"^sha256:[0-9a-f]{64}$"
_HOST = r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$"
# user:password@ before the host, after a scheme if one is written (``https://u:p@host/repo``,
# ``u:p@host``); ``name:tag@sha256:...`` is a digest, not a login
_USERINFO = r"^(?:[A-Za-z][A-Za-z0-9+.-]*://)?[^/@]+:[^/@]*@(?!sha256:)"


class RegistryOptions:
    """How a registry is reached.

    ``insecure``: hosts (``host`` or ``host:port``) allowed plain HTTP besides loopback addresses;
    ``ca_file``: a CA trusted for every registry besides the system's; ``certs_dir``: per-registry
    CAs as Docker reads them (``<certs_dir>/<host[:port]>/*.crt``); ``timeout``: seconds to
    connect and seconds without a byte before a read counts as stalled; ``retries``: further tries
    of a request refused with 429/502/503/504 or failing before any byte of its body;
    ``docker_config``: the Docker config file with credentials (None: ``$DOCKER_CONFIG/config.json``
    else ``~/.docker/config.json``); ``blobs_at_once``: layer blobs downloaded at once;
    ``memory_budget``: bytes those downloads hold received ahead of the reader, all together."""

    __slots__ = (
        "_certs_dir",
        "blobs_at_once",
        "ca_file",
        "docker_config",
        "insecure",
        "memory_budget",
        "retries",
        "timeout",
    )
    CERTS_DIR = "/etc/docker/certs.d"

    def __init__(
        self,
        insecure: frozenset[str] = frozenset(),
        ca_file: Path | None = None,
        certs_dir: Path | None = None,
        timeout: float = 30.0,
        retries: int = 4,
        docker_config: Path | None = None,
        blobs_at_once: int = 3,
        memory_budget: int = 48 << 20,
    ) -> None:
        if timeout <= 0 or retries < 0 or blobs_at_once < 1 or memory_budget < 1:
            raise SourceError(
                "registry options: timeout, blobs_at_once and memory_budget must be positive and "
                "retries not negative"
            )
        self.insecure, self.ca_file, self._certs_dir = insecure, ca_file, certs_dir
        self.timeout, self.retries, self.docker_config = timeout, retries, docker_config
        self.blobs_at_once, self.memory_budget = blobs_at_once, memory_budget

    @property
    def certs_dir(self) -> Path:
        """Where per-registry CAs are looked for (``/etc/docker/certs.d`` unless given)."""
        if self._certs_dir is not None:
            return self._certs_dir
        from pathlib import Path  # pathlib only once TLS needs it

        return Path(self.CERTS_DIR)

    def _fields(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RegistryOptions) and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name.lstrip('_')}={getattr(self, name)!r}" for name in self.__slots__)
        return f"RegistryOptions({shown})"


class Reference(NamedTuple):
    """``registry`` as written (``host[:port]``, ``docker.io`` for Docker Hub), ``repository``
    (``library/`` added on Docker Hub), and a ``tag`` or ``digest`` (both when both are given:
    the digest is what is fetched)."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def api_host(self) -> str:
        """Where the API is served: Docker Hub's is not ``docker.io``."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def manifest_ref(self) -> str:
        """What the manifest is fetched by: the digest, else the tag."""
        return self.digest or self.tag or "latest"

    @property
    def name(self) -> str:
        """``host/repo:tag``, ``host/repo@sha256:...`` or both."""
        text = f"{self.registry}/{self.repository}"
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text

    def __str__(self) -> str:
        return PREFIX + self.name


def parse_reference(text: str) -> Reference:
    """A reference from ``docker://host[:port]/repo[:tag|@digest]`` or the same without the
    prefix; ``SourceError`` naming what is wrong otherwise."""
    raw = text.strip()
    rest = raw[len(PREFIX) :] if raw.startswith(PREFIX) else raw
    if ("@" in rest.split("/", 1)[0] and "/" in rest) or re.match(_USERINFO, rest):  # never echoed
        raise SourceError(
            "a registry reference carries credentials (user:password@host): remove them; "
            "logins come from the Docker config (docker login)"
        )
    if "://" in rest or not rest:
        raise _bad(text, "write it as docker://host[:port]/repository[:tag|@sha256:<hex>]")
    digest: str | None = None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        if not re.match(_DIGEST, digest):
            raise _bad(text, f"the digest {digest!r} is not sha256:<64 hex digits>")
    tag: str | None = None
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
        if not re.match(_TAG, tag):
            raise _bad(text, f"the tag {tag!r} is not a valid tag")
    first, _, remainder = rest.partition("/")
    if remainder and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        registry, repository = first, remainder
        if not re.match(_HOST, registry):
            raise _bad(text, f"the registry {registry!r} is not host[:port]")
    else:
        registry, repository = DOCKER_HUB, rest if "/" in rest else f"library/{rest}"
    if registry == "index.docker.io":
        registry = DOCKER_HUB
    if not all(re.match(_COMPONENT, part) for part in repository.split("/")) or len(repository) > 255:
        raise _bad(text, f"the repository {repository!r} is not lower-case path components")
    if tag is None and digest is None:
        tag = "latest"
    return Reference(registry, repository, tag, digest)


def _bad(text: str, fix: str) -> SourceError:
    return SourceError(f"registry reference {text!r} is not valid: {fix}")


def host_of(registry: str) -> str:
    """The host part of ``host[:port]`` (brackets of an IPv6 address removed)."""
    if registry.startswith("["):
        return registry[1 : registry.index("]")]
    return registry.rsplit(":", 1)[0] if registry.count(":") == 1 else registry


def is_loopback(registry: str) -> bool:
    host = host_of(registry).lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    octets = host.split(".")
    if len(octets) == 4 and all(o.isascii() and o.isdigit() and int(o) < 256 for o in octets):
        return octets[0] == "127"  # an IPv4 address, told without loading ipaddress
    try:
        import ipaddress

        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def plain_http_allowed(registry: str, insecure: frozenset[str]) -> bool:
    """Loopback addresses, and hosts named in ``insecure`` (by host or by host:port)."""
    return is_loopback(registry) or registry in insecure or host_of(registry) in insecure
