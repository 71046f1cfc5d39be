"""Fixture factories: declare an image once, use it by name in any test."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ..engine.build import BuildSpec
from ..engine.multiplatform import MultiPlatformUnsupported
from ..errors import EngineUnavailable, ImageSizeError
from ..measure.image import Image
from ..session import Declaration, ImageSizeSession

if TYPE_CHECKING:
    from ..measure.index import ImageIndex

DECLARATION_ATTR = "_pytest_imagesize_declaration"
SESSION_KEY = pytest.StashKey[ImageSizeSession]()
SKIP_HINT = "; --image-skip-without-docker skips image tests instead"


def _caller_dir(depth: int = 2) -> Path:
    module_file = sys._getframe(depth).f_globals.get("__file__")
    return Path(module_file).resolve().parent if module_file else Path.cwd()


def _image_fixture(declaration: Declaration, scope: str, name: str | None) -> Any:
    def image_fixture(request: pytest.FixtureRequest) -> Image | ImageIndex:
        session = request.config.stash[SESSION_KEY]
        try:
            return session.provide_value(str(request.fixturename), declaration)
        except EngineUnavailable as exc:
            skip = session.settings.skip_without_engine
            message = str(exc) if skip else f"{exc}{SKIP_HINT}"
        except MultiPlatformUnsupported as exc:  # a builder without multi-platform output
            message, skip = str(exc), True
        except ImageSizeError as exc:
            message, skip = str(exc), False
        # Raised outside the except blocks, so that pytest's cached re-raise for the next test
        # shows this one message and no exception chain.
        if skip:
            pytest.skip(message)
        pytest.fail(message, pytrace=False)

    setattr(image_fixture, DECLARATION_ATTR, declaration)
    return pytest.fixture(scope=scope, name=name)(image_fixture)  # type: ignore[call-overload]


def build_image(
    dockerfile: str | Path = "Dockerfile",
    *,
    context: str | Path | None = None,
    target: str | None = None,
    build_args: Mapping[str, str] | None = None,
    name: str | None = None,
    scope: str = "session",
    platforms: Sequence[str] | None = None,
) -> Any:
    """Declare an image built from a Dockerfile; returns a fixture that yields an ``Image``.

    ``platforms`` (``["linux/amd64", "linux/arm64"]``) builds for each of them into a temporary
    OCI layout, never loaded into the engine, and the fixture yields an ``ImageIndex``: buildx
    on Docker's containerd image store (or a docker-container builder), or Podman; where the
    builder cannot, the tests that use it skip with one line naming what is needed.

    Assign the result to a module-level name in a conftest or test module (``slim =
    build_image("Dockerfile")``): tests then ask for ``slim``. Relative paths start at the
    directory of the declaring module; ``context`` defaults to the Dockerfile's directory. Each
    distinct (Dockerfile, context, target, build args) is built once per session.
    """
    base = _caller_dir()
    dockerfile_path = (base / Path(dockerfile)).resolve()
    context_path = (base / Path(context)).resolve() if context is not None else dockerfile_path.parent
    args = tuple(sorted((str(k), str(v)) for k, v in (build_args or {}).items()))
    spec = BuildSpec(dockerfile_path, context_path, target, args, str(dockerfile))
    return _image_fixture(Declaration("build", spec=spec, platforms=_platforms(platforms)), scope, name)


def _platforms(platforms: Sequence[str] | None) -> tuple[str, ...]:
    if platforms is None:
        return ()
    if isinstance(platforms, str) or not platforms:
        raise ImageSizeError(
            f"build_image(platforms=...) needs a list like ['linux/amd64', 'linux/arm64'], got {platforms!r}"
        )
    from ..sources.platforms import Platform

    normal = [str(Platform.parse(str(p))) for p in platforms]
    if len(set(normal)) != len(normal):
        raise ImageSizeError(f"build_image(platforms=...) names a platform twice: {', '.join(normal)}")
    return tuple(normal)


def existing_image(
    ref: str, *, name: str | None = None, scope: str = "session", base: str | None = None
) -> Any:
    """Declare an image that is already on the engine (built by an earlier CI step). ``base``
    names the image it was built on, for base/own accounting (else the image's
    ``org.opencontainers.image.base.name`` label, when it has one)."""
    if not isinstance(ref, str) or not ref.strip():
        raise ImageSizeError(f"existing_image() needs an image reference like 'myorg/app:ci', got {ref!r}")
    if base is not None and (not isinstance(base, str) or not base.strip()):
        raise ImageSizeError(f"existing_image(base=...) needs an image reference, got {base!r}")
    return _image_fixture(
        Declaration("existing", ref=ref.strip(), base=base.strip() if base else None), scope, name
    )


def registry_image(
    ref: str,
    *,
    platform: str | None = None,
    name: str | None = None,
    scope: str = "session",
    base: str | None = None,
) -> Any:
    """Declare an image in a registry (``HOST/REPO:TAG``, ``HOST/REPO@sha256:...``, or the same
    after ``docker://``); returns a fixture that yields an ``Image``, or an ``ImageIndex`` of every
    platform when the reference names an index and no ``platform`` is given. No engine needed:
    manifests and configs are read, and layer blobs once where a size needs them (compressed
    sizes need none). ``base``: the image it was built on (a source reference or an engine name).
    Plain-HTTP hosts and a CA file: ``--image-insecure-registry``, ``--image-registry-ca``."""
    if not isinstance(ref, str) or not ref.strip().removeprefix("docker://"):
        raise ImageSizeError(
            f"registry_image() needs a reference like 'registry.local:5000/app:1.4', got {ref!r}"
        )
    text = ref.strip()
    text = text if text.startswith("docker://") else f"docker://{text}"
    declaration = Declaration(
        "source", ref=text, base=_base(base, "registry_image"), platform=_platform(platform)
    )
    return _image_fixture(declaration, scope, name)


def oci_image(
    path: str | Path,
    *,
    ref: str | None = None,
    platform: str | None = None,
    name: str | None = None,
    scope: str = "session",
    base: str | None = None,
) -> Any:
    """Declare an image in an OCI layout directory, or in an archive (``.tar``: an OCI archive or
    a ``docker save`` archive, told apart by content); ``ref`` names the image in it (its
    ``org.opencontainers.image.ref.name``). A relative path starts at the declaring module's
    directory. Yields an ``Image``, or an ``ImageIndex`` for an index without ``platform``."""
    if not isinstance(path, (str, Path)) or not str(path).strip():
        raise ImageSizeError(f"oci_image() needs the path of an OCI layout or image archive, got {path!r}")
    if ref is not None and (not isinstance(ref, str) or not ref.strip()):
        raise ImageSizeError(f"oci_image(ref=...) needs the image's name in the layout, got {ref!r}")
    resolved = (_caller_dir() / Path(path)).resolve()
    declaration = Declaration(
        "source",
        path=resolved,
        ref=ref.strip() if ref else None,
        base=_base(base, "oci_image"),
        platform=_platform(platform),
    )
    return _image_fixture(declaration, scope, name)


def _platform(platform: str | None) -> str | None:
    if platform is None:
        return None
    from ..sources.platforms import Platform

    return str(Platform.parse(platform))  # PlatformError (one line) at collection


def _base(base: str | None, what: str) -> str | None:
    if base is not None and (not isinstance(base, str) or not base.strip()):
        raise ImageSizeError(f"{what}(base=...) needs an image reference, got {base!r}")
    return base.strip() if base else None


def declaration_of(fixture_function: Any) -> Declaration | None:
    found = getattr(fixture_function, DECLARATION_ATTR, None)
    return found if isinstance(found, Declaration) else None
