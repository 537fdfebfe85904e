"""Hot one-row reads, compiled once per process.

Every request reads its API token (with user and agency) and every issue its licence type. The
ORM compiles the same SQL for each of them again: ≈ 0.55 ms of a token read's 0.8 ms, ≈ 0.4 of
a type read's 0.6 (bench/issuance/cpu.py). A `PreparedRead` compiles its queryset once per
database alias with a placeholder value, then runs that SQL with the value asked for and builds
the instance as the ORM does: the compiler's own converters (SQLite's datetimes, JSON) and
select_related populators. Each read still goes to the database, so a revoked token or a
withdrawn type is seen at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.db import connections, models
from django.db.models.query import get_related_populators

M = TypeVar("M", bound=models.Model)
PLACEHOLDER = "\x00prepared-read\x00"


class PreparedRead(Generic[M]):
    """`build(value)` returns the queryset for one string `value` (a filter on a text column,
    sliced to one row); `first(value)` is its first row, or None."""

    def __init__(self, build: Callable[[str], models.QuerySet[M]]) -> None:
        self._build = build
        self._compiled: dict[str, tuple[Any, ...]] = {}

    def _compile(self, alias: str) -> tuple[Any, ...]:
        compiled = self._compiled.get(alias)
        if compiled is None:
            queryset = self._build(PLACEHOLDER)
            compiler = queryset.query.get_compiler(using=alias)
            sql, params = compiler.as_sql()
            if list(params).count(PLACEHOLDER) != 1:  # a programming error: caught by its tests
                raise ValueError("a prepared read takes exactly one string parameter")
            info, select = compiler.klass_info, compiler.select
            fields = info["select_fields"]
            start, end = fields[0], fields[-1] + 1
            compiled = (
                compiler,
                sql,
                list(params),
                list(params).index(PLACEHOLDER),
                info["model"],
                [column[0].target.attname for column in select[start:end]],
                (start, end),
                get_related_populators(info, select, alias),  # type: ignore[call-arg]  # the stubs follow Django 6
            )
            self._compiled[alias] = compiled
        return compiled

    def first(self, value: str, *, using: str = "default") -> M | None:
        compiler, sql, params, at, model, names, (start, end), populators = self._compile(using)
        params = [*params[:at], value, *params[at + 1 :]]
        with connections[using].cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchmany(1)
        for row in compiler.results_iter([rows]):
            instance = model.from_db(using, names, row[start:end])
            for populator in populators:
                populator.populate(row, instance)
            return instance
        return None
