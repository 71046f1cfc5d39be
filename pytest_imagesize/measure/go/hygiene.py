"""Build-hygiene findings about a Go binary in an image: what a better build would save."""

from __future__ import annotations

from .model import Finding, GoBinary


def hygiene_findings(binary: GoBinary, image_has_loader: bool) -> list[Finding]:
    """Rules: ``test-binary``, ``stripped``, ``trimpath``, ``static`` (see the design doc) and
    ``unreadable``: the binary is damaged or cut short (``problem`` set; a UPX-packed binary is
    not counted). Of a binary of which nothing could be measured, only that is said."""
    found: list[Finding] = []
    path = binary.path
    if binary.problem and not binary.packed:
        found.append(
            Finding(
                "unreadable",
                path,
                f"cannot be read: {binary.problem}",
                None,
                "ship an intact binary built by Go 1.18 or later (rebuild it or copy it again); "
                "allow=('unreadable',) accepts it",
            )
        )
        if binary.partial and not binary.other and not binary.packages:
            return found
    if binary.is_test:
        found.append(
            Finding(
                "test-binary",
                path,
                "is a test binary (built by `go test -c`)",
                binary.size,
                "ship the service binary: `go build`, not `go test -c`",
            )
        )
    if not binary.stripped and not binary.packed:
        found.append(
            Finding(
                "stripped",
                path,
                "carries a symbol table and/or DWARF debug info",
                binary.debug_bytes or None,
                'build with -ldflags="-s -w"',
            )
        )
    if binary.go_version and not binary.packed and binary.settings.get("-trimpath", "false") != "true":
        found.append(
            Finding(
                "trimpath",
                path,
                "built without -trimpath (build paths of the builder are embedded)",
                None,
                "build with -trimpath",
            )
        )
    if not binary.static and not image_has_loader:
        found.append(
            Finding(
                "static",
                path,
                "is dynamically linked (has an ELF interpreter) but the image has no dynamic loader",
                None,
                "build with CGO_ENABLED=0 (or ship the loader and libc)",
            )
        )
    return found
