"""Timing candidate serving layouts on a kept comparison's chDB directory (benchmarks.compare_probe):
the same keys as the comparison, warm-up first, p50/p95 per variant with its build cost."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks.measure import latency


def literal(sql: str, params: dict[str, Any]) -> str:
    """A parameterised project query with the values inlined (for variants without binding)."""
    out = sql.replace("{y:UInt16}", str(int(params["y"]))).replace("{k:String}", f"'{params['k']}'")
    return out.replace("{t:String}", f"'{params.get('t', '')}'")


class Probe:
    def __init__(self, conn: Any, keys: dict[str, list[dict[str, Any]]], warmup: int) -> None:
        self.conn = conn
        self.keys = keys
        self.warmup = warmup
        self.results: dict[str, dict[str, Any]] = {}

    def execute(self, sql: str) -> float:
        started = time.perf_counter()
        self.conn.query(sql, "TabSeparated")
        return round(time.perf_counter() - started, 2)

    def build(self, *statements: str) -> float:
        """Run a candidate's DDL; its seconds in all."""
        return sum(self.execute(sql) for sql in statements)

    def scalar(self, sql: str) -> Any:
        return json.loads(self.conn.query(sql, "JSONCompact").bytes())["data"][0][0]

    def time(
        self, group: str, label: str, keys: str, run: Callable[[dict[str, Any]], object], **info: Any
    ) -> None:
        params_list = self.keys[keys]
        for params in params_list[: self.warmup]:
            run(params)
        times = []
        for params in params_list[self.warmup :]:
            started = time.perf_counter()
            run(params)
            times.append(time.perf_counter() - started)
        result = latency(times) | info
        self.results.setdefault(group, {})[label] = result
        print(f"{group:28s} {label:70s} p50 {result['p50_ms']:8.3f} p95 {result['p95_ms']:8.3f}", flush=True)

    def sql(self, group: str, label: str, keys: str, template: str, **info: Any) -> None:
        """Time a SQL template with the keys inlined, rows fetched as JSONCompact."""

        def run(params: dict[str, Any]) -> object:
            return json.loads(self.conn.query(literal(template, params), "JSONCompact").bytes())["data"]

        self.time(group, label, keys, run, **info)


@dataclass
class Candidates:
    """The variants of one query class: its group in the report, the keys it is timed on, the SQL
    the variants start from and the table that SQL reads."""

    probe: Probe
    group: str
    keys: str
    base: str
    table: str

    def time(self, label: str, run: Callable[[dict[str, Any]], object], **info: Any) -> None:
        self.probe.time(self.group, label, self.keys, run, **info)

    def sql(self, label: str, template: str, **info: Any) -> None:
        self.probe.sql(self.group, label, self.keys, template, **info)

    def with_settings(self, label: str, settings: str) -> None:
        """The base SQL with query settings."""
        self.sql(label, f"{self.base} SETTINGS {settings}")

    def on_copy(self, label: str, copy: str, *ddl: str, **info: Any) -> None:
        """The base SQL on a copy of its table, made by ``ddl`` (after dropping an older one)."""
        build = self.probe.build(f"DROP TABLE IF EXISTS {copy}", *ddl)
        self.sql(label, self.base.replace(self.table, copy), build_seconds=build, **info)

    def by_granularity(
        self,
        label: str,
        name: str,
        granularities: Sequence[int],
        layout: str,
        select: str,
        optimize: bool = False,
    ) -> None:
        """The base SQL on MergeTree copies (``layout``: PARTITION BY / ORDER BY) of ``select``, one
        per index granularity, each merged into one part first if ``optimize``."""
        for granularity in granularities:
            copy = f"probe.{name}_g{granularity}"
            ddl = [
                f"CREATE TABLE {copy} ENGINE = MergeTree {layout} "
                f"SETTINGS index_granularity = {granularity} AS {select}"
            ]
            if optimize:
                ddl.append(f"OPTIMIZE TABLE {copy} FINAL")
            self.on_copy(f"{label}, index_granularity {granularity}", copy, *ddl)
