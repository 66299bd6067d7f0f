"""The product's settings with the load benchmarks' peer view mounted (benchmarks/peer_urls.py)."""

from gis_app.settings import *  # noqa: F403

ROOT_URLCONF = "peer_urls"
