"""Deleting what a run pushed to a registry: the manifest its tag names and, for an index, each
manifest the index lists, by digest (``DELETE /v2/<repository>/manifests/<digest>``), where the
registry allows deletion. Distribution answers 405 ``UNSUPPORTED`` where deletion is disabled
(``storage.delete.enabled``); what could not be deleted is returned, with why, for one line.

Layer blobs stay: other images of the repository may use them, and the registry's garbage
collection removes those nothing names. A Bearer token is asked for ``pull,push,delete``."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..manifests import ACCEPT, MAX_MANIFEST, digest_of
from ..model import SourceError
from .client import RegistryClient, parse_challenge
from .reference import RegistryOptions, parse_reference
from .transport import TLSFailure, TransportError


@dataclass(frozen=True)
class Deletion:
    """What became of one pushed reference (``host/repo:tag``): the digests deleted, the
    references (``host/repo@digest``) left in the registry, and why they were left."""

    ref: str
    deleted: tuple[str, ...] = ()
    left: tuple[str, ...] = ()
    reason: str | None = None


class _DeletingClient(RegistryClient):
    actions = "pull,push,delete"

    def delete(self, path: str, what: str) -> tuple[int, str]:
        """DELETE ``path``, logging in when the registry asks: (status, the error's code and
        message where it sent one)."""
        url = self._connect() + path
        renewed = False
        while True:
            headers = {"Authorization": self._auth} if self._auth is not None else {}
            failed = self._auth
            try:
                response = self.send("DELETE", url, headers, what)
            except TLSFailure as tls:
                raise SourceError(f"{self.label}: TLS failed while deleting {what} ({tls.reason})") from None
            if response.status != 401 or renewed:
                return response.status, self._error_detail(response)
            challenge = parse_challenge(response.headers.get("WWW-Authenticate"))
            response.drain()
            response.release()
            self._authenticate(challenge, failed, what)
            renewed = True


def delete_pushed(ref: str, options: RegistryOptions) -> Deletion:
    """Delete the manifests ``ref`` (``host/repo:tag``) names: nothing when the tag is not there
    (a push that never finished); ``SourceError`` in one line when the registry cannot be read."""
    reference = parse_reference(ref)
    repository = reference.repository
    client = _DeletingClient(reference, options)
    what = f"the manifest of {reference.name}"
    try:
        response = client.get(f"/v2/{repository}/manifests/{reference.manifest_ref}", what, accept=ACCEPT)
        if response.status == 404:
            response.drain()
            response.release()
            return Deletion(ref)
        if response.status != 200:
            raise client.failure(response, what)
        try:
            data = response.read(MAX_MANIFEST + 1)
        except TransportError:
            raise SourceError(f"{client.label} dropped the connection while sending {what}") from None
        finally:
            response.release()
        digests = [digest_of(data), *_children(data)]
        deleted: list[str] = []
        for i, digest in enumerate(digests):
            status, detail = client.delete(f"/v2/{repository}/manifests/{digest}", f"{repository}@{digest}")
            if status in (200, 202, 404):  # 404: gone already
                deleted.append(digest)
                continue
            left = tuple(f"{reference.registry}/{repository}@{d}" for d in digests[i:])
            return Deletion(ref, tuple(deleted), left, _why(status, detail))
        return Deletion(ref, tuple(deleted))
    finally:
        client.close()


def _children(data: bytes) -> list[str]:
    """The manifests an index lists (attestations too: they were pushed with it)."""
    try:
        listed = json.loads(data).get("manifests")
        found = [entry.get("digest") for entry in listed or []]
    except (ValueError, AttributeError, TypeError, RecursionError):
        return []
    return [digest for digest in found if isinstance(digest, str) and digest.startswith("sha256:")]


def _why(status: int, detail: str) -> str:
    said = f"{status} {detail}".strip()
    if status == 405 or detail.startswith("UNSUPPORTED"):
        return f"the registry does not allow deletion ({said})"
    if status in (401, 403):
        return f"the account may not delete there ({said})"
    return f"the registry answered {said}"
