"""Querysets compiled to SQL once and run many times: for hot paths whose SQL never changes."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable
from typing import Any

from django.db import connection
from django.db.models import QuerySet

NO_ID = -7_777_777  # an id no row has: a sentinel for an id argument (NO_ID - 1 for a second one)


class CompiledOnce:
    """A values() query compiled to SQL once per thread, then run with other values of its parameters, its rows
    converted as Django converts them (JSON columns decoded). `build` makes the query from `sentinels`, values
    no row has, which mark where each argument goes among the compiled SQL's parameters.

    Why: Django compiles a queryset to SQL on every run, and on a hot path whose SQL never changes that is most of
    the cost (the crew API's route pull: compiling the day's route, the route and its stops, with their joins,
    annotations and GROUP BY, was about 40 % of a full pull's CPU). Only for querysets whose SQL does not depend
    on the values: an IN list of varying length, say, compiles differently and cannot use this. The arguments go
    to the database as given, without the field's conversion: pass them as the field stores them (a UUID for a
    UUIDField, a date for a DateField)."""

    def __init__(self, build: Callable[..., QuerySet[Any]], *sentinels: Any) -> None:
        assert len(set(sentinels)) == len(sentinels), f"each argument needs its own sentinel: {sentinels!r}"
        self.build, self.sentinels = build, sentinels
        self.local = threading.local()

    def _compiled(self) -> tuple[str, list[Any], list[str], Any, dict[int, Any]]:
        if getattr(self.local, "compiled", None) is None:
            query = self.build(*self.sentinels).query
            compiler = query.get_compiler(using="default")
            sql, params = compiler.as_sql()
            slots = [Slot(self.sentinels.index(p)) if p in self.sentinels else p for p in params]
            assert {s.index for s in slots if isinstance(s, Slot)} == set(range(len(self.sentinels))), params
            names = list(query.selected or [*query.extra_select, *query.values_select, *query.annotation_select])
            converters = compiler.get_converters([col for col, _, _ in compiler.select[: compiler.col_count]])
            self.local.compiled = (sql, slots, names, compiler, converters)
        compiled: tuple[str, list[Any], list[str], Any, dict[int, Any]] = self.local.compiled
        return compiled

    def rows(self, *args: Any) -> list[dict[str, Any]]:
        sql, slots, names, compiler, converters = self._compiled()
        with connection.cursor() as cur:
            cur.execute(sql, [args[s.index] if isinstance(s, Slot) else s for s in slots])
            fetched: Iterable[Any] = cur.fetchall()
        if converters:
            fetched = compiler.apply_converters(fetched, converters)
        return [dict(zip(names, row, strict=True)) for row in fetched]


@dataclasses.dataclass(frozen=True)
class Slot:
    index: int  # which argument of `CompiledOnce.rows` goes here
