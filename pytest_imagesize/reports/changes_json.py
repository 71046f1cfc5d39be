"""The JSON report's per-image ``changes``: what moved since the image's baseline entry, in the
shape of ``pytest-imagesize diff --json`` (``compare.wording.comparison_json``) with each list of
movers cut to its largest ``MAX_MOVERS`` and ``omitted`` counting what was cut.

An image that grew since its entry is read (its files are the movers); one that did not is
compared with what is already measured: its files, directories, packages and Go modules only
where its archive was read (``files_compared``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..baseline import BaselineEntry
from ..compare.changes import compare
from ..compare.wording import comparison_json
from ..errors import ImageSizeError
from ..measure.image import Image

MAX_MOVERS = 20
MOVER_LISTS = ("files", "dirs", "packages", "go", "go_packages")


def changes_json(image: Image, entry: BaselineEntry | None, name: str) -> dict[str, Any] | None:
    """The movers of ``image`` against ``entry`` (None: no entry, or the image cannot be read)."""
    if entry is None:
        return None
    try:
        grew = entry.size is not None and entry.size_comparable and image.size > entry.size
        read = grew or image.analysed
        full = {r.path: r.size for r in image.files if r.kind == "file"} if read else None
        recorded = entry.summary()
        if not read:  # nothing of its files is known now: compare sizes and layers only
            recorded = replace(
                recorded,
                files={},
                files_complete=None,
                dirs={},
                go={},
                go_packages={},
                packages_complete=None,
            )
        comparison = compare(recorded, image.summary(files=read), b_files=full)
    except ImageSizeError:
        return None
    document = comparison_json(comparison, f"baseline:{name}", name)
    omitted = {}
    for key in MOVER_LISTS:
        movers = document[key]
        omitted[key] = max(len(movers) - MAX_MOVERS, 0)
        document[key] = movers[:MAX_MOVERS]
    document["layers"] = [layer for layer in document["layers"] if layer["status"] != "same"]
    document["omitted"] = omitted
    document["files_compared"] = read  # false: the image's archive was not read, no file movers
    return {"against": "baseline", **document}
