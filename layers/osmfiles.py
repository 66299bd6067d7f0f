"""OSM files in the formats cities are given them: XML (.osm, .osm.bz2) as it is, PBF (.osm.pbf, .pbf)
through pyosmium (libosmium's reader), converted once to a temporary XML the streaming readers take.

Geofabrik and BBBike hand out PBF; Overpass and JOSM write XML. The street network (routing.network.osm)
and the address-point reader (layers.addresses) both read XML with ElementTree's streaming parser, so one
conversion serves both and neither parser is written twice.
"""

from __future__ import annotations

import bz2
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


def is_pbf(path: Path) -> bool:
    return path.name.lower().endswith(".pbf")


@contextmanager
def osm_xml(path: Path) -> Iterator[Path]:
    """The file itself when it is XML; for PBF, a temporary XML copy (deleted afterwards). A PBF file
    pyosmium cannot read raises ValueError naming the file and what libosmium said."""
    if not is_pbf(path):
        yield path
        return
    import osmium  # imported here: only a PBF load needs libosmium

    with tempfile.TemporaryDirectory(prefix="osm-") as folder:
        out = Path(folder) / (path.name.removesuffix(".pbf").removesuffix(".osm") + ".osm")
        try:
            with osmium.SimpleWriter(str(out)) as writer:
                for obj in osmium.FileProcessor(str(path)):
                    writer.add(obj)
        except RuntimeError as exc:
            raise ValueError(f"{path.name}: not a readable OSM PBF file ({exc})") from None
        yield out


def open_xml(path: Path) -> IO[bytes]:
    """An OSM XML file opened for reading, decompressing .bz2."""
    return bz2.open(path, "rb") if path.suffix == ".bz2" else path.open("rb")
