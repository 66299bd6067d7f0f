"""A tqdm progress bar adapter for the importers' `progress(done, total)` callbacks."""

from __future__ import annotations

import sys
from collections.abc import Callable

from tqdm import tqdm


def bar_factory(enabled: bool = True) -> Callable[[str], Callable[[int, int], None] | None]:
    def make(label: str) -> Callable[[int, int], None] | None:
        if not enabled or not sys.stderr.isatty():
            return None
        bar: tqdm | None = None

        def progress(done: int, total: int) -> None:
            nonlocal bar
            if bar is None:
                bar = tqdm(total=total, desc=label[:40], unit="feat", leave=False)
            bar.update(done - bar.n)
            if done >= total:
                bar.close()

        return progress

    return make
