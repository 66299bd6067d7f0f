"""Benchmark notes say which way a figure moved from the figures themselves (issue 19: the dispatch note
printed "drive per job -16 % below habit" for 5.96 against 5.12 min, which is 16 % above)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

COMMON = Path(__file__).parent.parent / "benchmarks" / "_common.py"
spec = importlib.util.spec_from_file_location("bench_common", COMMON)
assert spec is not None and spec.loader is not None
common = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = common  # its dataclasses look their module up
spec.loader.exec_module(common)


def test_a_larger_figure_is_above_the_peer_and_a_smaller_one_below():
    assert common.versus(5.96, 5.12, "habit") == "16 % above habit"
    assert common.versus(3.84, 5.12, "habit") == "25 % below habit"
    assert common.versus(5.12, 5.12, "habit") == "the same as habit"
    assert common.versus(1.0, 0.0, "habit") == "no habit figure to compare"
