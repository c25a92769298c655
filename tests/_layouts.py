"""Copies of a real SAFE product in the layout of the AWS and Planetary Computer archives.

Those archives keep ``manifest.safe`` as ESA wrote it but shorten the member names
(``annotation/s1b-iw-grd-vv-<times>-...-001.xml`` -> ``annotation/iw-vv.xml``), list the
mapping in ``productInfo.json`` (``filenameMap``) and name the folder without ``.SAFE``.
"""

from __future__ import annotations

import json
import pathlib
import re
import shutil

_LONG = re.compile(
    r"^(?P<prefix>(?:calibration|noise|rfi)-)?s1[a-d]-(?P<swath>[a-z0-9]+)-grd-"
    r"(?P<pol>hh|hv|vv|vh)-[^/]*\.(?P<ext>xml|tiff?)$"
)


def short_name(relpath: str) -> str:
    """Return the archive's name of a SAFE member (unchanged for files that keep theirs)."""
    folder, _, name = relpath.rpartition("/")
    match = _LONG.match(name)
    if match is None:
        return relpath
    short = f"{match['prefix'] or ''}{match['swath']}-{match['pol']}.{match['ext']}"
    return f"{folder}/{short}" if folder else short


def archive_copy(safe: pathlib.Path, parent: pathlib.Path) -> pathlib.Path:
    """Copy ``safe`` into ``parent/<product name>/`` with the archive's short member names."""
    target = parent / safe.name.removesuffix(".SAFE")
    mapping = {}
    for path in sorted(p for p in safe.rglob("*") if p.is_file()):
        relpath = path.relative_to(safe).as_posix()
        mapping[relpath] = short_name(relpath)
        (target / mapping[relpath]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target / mapping[relpath])
    info = {"id": target.name, "filenameMap": mapping, "version": 3}
    (target / "productInfo.json").write_text(json.dumps(info, indent=2))
    return target
