"""QR codes drawn on our own host as inline SVG (no outside service ever sees what they encode: an
authenticator's secret, a tablet's one-time sign-in link)."""

from __future__ import annotations

import io

import qrcode
import qrcode.image.svg


def qr_svg(text: str, box_size: int = 8) -> str:
    """`text` as an inline `<svg>` element (the XML declaration dropped, so it can sit in a page)."""
    out = io.BytesIO()
    qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=box_size).save(out)
    svg = out.getvalue().decode()
    return svg[svg.index("<svg") :]
