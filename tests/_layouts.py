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


def rotated_copy(safe: pathlib.Path, parent: pathlib.Path, degrees: float) -> pathlib.Path:
    """Copy of a product turned ``degrees`` east about the Earth's axis (same product name).

    Orbit state vectors (Earth-fixed positions and velocities) are rotated, the geolocation
    grid and the manifest footprint moved in longitude: the same acquisition, elsewhere.  The
    measurement is linked, not copied.
    """
    import math

    target = parent / safe.name
    shutil.copytree(safe, target, ignore=shutil.ignore_patterns("*.tiff"))
    for tiff in safe.glob("measurement/*.tiff"):
        (target / "measurement" / tiff.name).symlink_to(tiff)
    cos, sin = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))

    def wrap(lon: float) -> float:
        return (lon + 180.0) % 360.0 - 180.0

    def turn(block: re.Match[str]) -> str:
        text = block.group(0)
        x = float(re.search(r"<x>(.*?)</x>", text).group(1))  # type: ignore[union-attr]
        y = float(re.search(r"<y>(.*?)</y>", text).group(1))  # type: ignore[union-attr]
        text = re.sub(r"<x>.*?</x>", f"<x>{x * cos - y * sin:.9e}</x>", text)
        return re.sub(r"<y>.*?</y>", f"<y>{x * sin + y * cos:.9e}</y>", text)

    for xml in target.glob("annotation/*.xml"):
        xml.chmod(0o644)
        text = xml.read_text()
        orbits = re.search(r"<orbitList.*?</orbitList>", text, re.S)
        assert orbits is not None
        turned = re.sub(r"<(position|velocity)>.*?</\1>", turn, orbits.group(0), flags=re.S)
        text = text.replace(orbits.group(0), turned)
        text = re.sub(
            r"<longitude>(.*?)</longitude>",
            lambda m: f"<longitude>{wrap(float(m.group(1)) + degrees):.9f}</longitude>",
            text,
        )
        xml.write_text(text)
    manifest = target / "manifest.safe"
    manifest.chmod(0o644)
    text = manifest.read_text()
    coords = re.search(r"<gml:coordinates>(.*?)</gml:coordinates>", text)
    assert coords is not None
    moved = []
    for pair in coords.group(1).split():
        lat, lon = (float(v) for v in pair.split(","))
        moved.append(f"{lat},{wrap(lon + degrees)}")
    manifest.write_text(text.replace(coords.group(1), " ".join(moved)))
    return target
