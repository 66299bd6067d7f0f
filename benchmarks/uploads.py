"""Photo uploads: peak memory and time per event, ours against decoding everything at full size.

Cases (each event handled in a fresh process that has only read its uploads, so the growth of its peak
resident memory is the event's own cost):
  limit   five 24-megapixel JPEGs under the 10 MB limit (at the per-event pixel budget), a busy stop;
  bombs   five 7000x7000 one-bit PNGs (30 kB in all), the decompression case the security review found;
  giant   one PNG whose header claims 20000x20000.
Ours is `field_api.crew.photos.check_photos` then the stored JPEG and thumbnail (what an event costs the
server). The peer is the path before issue 21: open, load, turn upright and convert to RGB at full size, then
encode that. Goal: peak at most 150 MB per event.

    python benchmarks/uploads.py [--json]
"""

from __future__ import annotations

import io
import json
import resource
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

from _common import ROOT, Result, parser, setup_django

CASES = ("limit", "bombs", "giant")
GOAL_MB = 150.0


def make_files(case: str) -> list[tuple[str, bytes]]:
    from PIL import Image

    if case == "limit":
        out = []
        for i in range(5):
            img = Image.effect_noise((6000, 4000), 12 + i).convert("RGB")
            buf = io.BytesIO()
            img.save(buf, "JPEG", quality=70)
            out.append((f"limit-{i}.jpg", buf.getvalue()))
        return out
    if case == "bombs":
        buf = io.BytesIO()
        Image.new("1", (7000, 7000)).save(buf, "PNG")
        return [(f"bomb-{i}.png", buf.getvalue()) for i in range(5)]
    small = io.BytesIO()
    Image.new("1", (8, 8)).save(small, "PNG")
    data = bytearray(small.getvalue())
    ihdr = struct.pack(">II", 20_000, 20_000) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return [("giant.png", bytes(data))]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def run_one(case: str, impl: str, folder: str) -> dict[str, Any]:
    """In this (fresh) process: read the uploads (made by the parent), note the peak so far, handle the event,
    report how far the peak grew: the event's own cost."""
    setup_django()
    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image, ImageOps

    from field_api.crew import photos

    files = [SimpleUploadedFile(f.name, f.read_bytes()) for f in sorted(Path(folder).iterdir())]
    uploaded = sum(len(f.read()) for f in files)
    for f in files:
        f.seek(0)
    before = peak_mb()
    t0 = time.perf_counter()
    outcome, stored_px, stored_bytes = "stored", 0, 0
    try:
        if impl == "ours":
            for c in photos.check_photos(files):
                stored_bytes += len(c.jpeg) + len(c.thumbnail)
                stored_px += c.width * c.height
        else:  # before issue 21: every photo decoded in full and converted to RGB, then each one encoded
            decoded: list[Image.Image] = []
            for f in files:
                opened = Image.open(f)
                opened.load()
                decoded.append(ImageOps.exif_transpose(opened).convert("RGB"))
            for full in decoded:
                body = photos._jpeg(full, 85)
                thumb = full.copy()
                thumb.thumbnail(photos.THUMB)
                stored_bytes += len(body) + len(photos._jpeg(thumb, 75))
                stored_px += full.width * full.height
    except Exception as exc:  # a refusal is an outcome to report, whichever path raised it
        outcome = f"refused: {type(exc).__name__}: {str(exc)[:120]}"
    return {
        "case": case,
        "impl": impl,
        "seconds": time.perf_counter() - t0,
        "peak_growth_mb": max(0.0, peak_mb() - before),
        "uploaded_bytes": uploaded,
        "stored_megapixels": stored_px / 1e6,
        "stored_bytes": stored_bytes,
        "outcome": outcome,
    }


def measure(case: str, impl: str, folder: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--one", case, impl, folder], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    if out.returncode != 0:
        raise SystemExit(f"{case}/{impl} failed:\n{out.stderr[-2000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--one", nargs=3, metavar=("CASE", "IMPL", "FOLDER"), help=argparse_help())
    args = p.parse_args()
    if args.one:
        print(json.dumps(run_one(*args.one)))
        return
    res = Result("uploads")
    details = {}
    for case in CASES:
        with tempfile.TemporaryDirectory() as folder:
            for name, body in make_files(case):
                (Path(folder) / name).write_bytes(body)
            ours, peer = measure(case, "ours", folder), measure(case, "peer", folder)
        details[case] = {"ours": ours, "peer": peer}
        res.add(
            f"{case}: peak memory per event",
            "MB",
            ours["peak_growth_mb"],
            peer["peak_growth_mb"],
            "decode at full size",
            better="lower",
        )
        res.add(f"{case}: time per event", "s", ours["seconds"], peer["seconds"], "decode at full size", better="lower")
        res.add(
            f"{case}: stored megapixels",
            "MP",
            ours["stored_megapixels"],
            peer["stored_megapixels"],
            "decode at full size",
            better="lower",
        )
        res.notes.append(f"{case}: ours {ours['outcome']}; peer {peer['outcome']}")
    worst = max(d["ours"]["peak_growth_mb"] for d in details.values())
    res.add("worst peak per event (goal)", "MB", worst, GOAL_MB, "goal", better="lower")
    res.details = details
    res.print(args.json)


def argparse_help() -> str:
    return "internal: measure one case in this process (ours or peer)"


if __name__ == "__main__":
    main()
