"""`scores status`: what is in the warehouse, how big it is, how fresh (the design's monitoring queries)."""

from __future__ import annotations

from clickhouse_connect.driver.client import Client
from rich.console import Console, Group, RenderableType
from rich.table import Table

from loaders.config import Settings
from loaders.schema import AUDIT_TABLE


def _readable(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:,.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return str(n)


def table_sizes(client: Client, databases: list[str]) -> Table:
    """Rows, size on disk and compression per table. MergeTree tables from their active parts;
    other engines from what the engine reports (an EmbeddedRocksDB table: its bytes on disk, no
    row count; a dictionary: its rows in memory once loaded)."""
    rows = client.query(
        """
        SELECT t.database, t.name, t.engine, coalesce(p.rows, t.total_rows), coalesce(p.disk, t.total_bytes),
               p.raw, d.status, d.element_count
        FROM system.tables AS t
        LEFT JOIN (
            SELECT database, table, sum(rows) AS rows, sum(bytes_on_disk) AS disk,
                   sum(data_uncompressed_bytes) AS raw
            FROM system.parts WHERE active GROUP BY database, table
        ) AS p ON p.database = t.database AND p.table = t.name
        LEFT JOIN (
            SELECT database, name, toString(status) AS status, element_count FROM system.dictionaries
        ) AS d ON d.database = t.database AND d.name = t.name
        WHERE t.database IN {dbs:Array(String)} AND NOT t.is_temporary
          AND t.name NOT LIKE '%__dbt_%'
        ORDER BY t.database, t.name
        SETTINGS join_use_nulls = 1
        """,
        parameters={"dbs": databases},
    ).result_rows
    table = Table(title="Tables")
    for name, justify in (
        ("Table", "left"),
        ("Engine", "left"),
        ("Rows", "right"),
        ("On disk", "right"),
        ("Uncompressed", "right"),
        ("Compression", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for database, name, engine, count, disk, raw, dictionary_status, elements in rows:
        if engine == "View":
            shown_rows = "view"
        elif engine == "Dictionary":
            shown_rows = f"{elements:,} in memory" if dictionary_status == "LOADED" else "not loaded"
        else:
            shown_rows = f"{count:,}" if count is not None else ""
        table.add_row(
            f"{database}.{name}",
            engine,
            shown_rows,
            _readable(disk) if disk else "",
            _readable(raw) if raw else "",
            f"{raw / disk:.1f}x" if disk and raw else "",
        )
    return table


def loads(client: Client, raw_database: str) -> Table:
    rows = client.query(
        f"""
        SELECT status, count(), sum(rows_landed), sum(rows_quarantined), max(finished_at),
               dateDiff('second', max(finished_at), now64(6))
        FROM `{raw_database}`.`{AUDIT_TABLE}` FINAL GROUP BY status ORDER BY status
        """
    ).result_rows
    table = Table(title="Loads (load_audit)")
    for name in ("Status", "Batches", "Rows landed", "Quarantined", "Last", "Age"):
        table.add_column(name, justify="left" if name in ("Status", "Last") else "right")
    for status, batches, landed, quarantined, last, age in rows:
        table.add_row(
            status,
            f"{batches:,}",
            f"{landed:,}",
            f"{quarantined:,}",
            f"{last:%Y-%m-%d %H:%M:%S}" if last else "",
            _age(age),
        )
    return table


def _age(seconds: int | None) -> str:
    if seconds is None:
        return ""
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def model_freshness(client: Client, settings: Settings) -> Table | None:
    ledger_exists = client.command(
        "SELECT count() FROM system.tables WHERE database = {d:String} AND name = 'dbt_batch_ledger'",
        parameters={"d": settings.build_state_database},
    )
    if not ledger_exists:
        return None
    rows = client.query(
        f"""
        WITH committed AS (
            SELECT batch_id FROM `{settings.raw_database}`.`{AUDIT_TABLE}` FINAL WHERE status = 'committed')
        SELECT model, countIf(batch_id IN (SELECT batch_id FROM committed)) AS applied,
               (SELECT count() FROM committed) - applied AS behind, max(applied_at)
        FROM `{settings.build_state_database}`.dbt_batch_ledger FINAL
        -- the build state (macros/build_state.sql): models that follow load batches, not the
        -- views' definitions or the data tests' recorded passes
        WHERE NOT startsWith(model, 'test:')
        GROUP BY model
        HAVING countIf(NOT match(batch_id, '^(definition|pass):')) > 0
        ORDER BY model
        """
    ).result_rows
    table = Table(title="Incremental models (batches applied; 'behind' = committed loads not yet built)")
    for name in ("Model", "Batches applied", "Behind", "Last build"):
        table.add_column(name, justify="left" if name in ("Model", "Last build") else "right")
    for model, applied, behind, last in rows:
        table.add_row(model, f"{applied:,}", f"{behind:,}", f"{last:%Y-%m-%d %H:%M:%S}" if last else "")
    return table


def render_status(client: Client, settings: Settings) -> str:
    parts: list[RenderableType] = [
        f"Warehouse: {settings.describe()}",
        table_sizes(client, [settings.raw_database, settings.database]),
    ]
    has_audit = client.command(
        "SELECT count() FROM system.tables WHERE database = {d:String} AND name = {t:String}",
        parameters={"d": settings.raw_database, "t": AUDIT_TABLE},
    )
    if has_audit:
        parts.append(loads(client, settings.raw_database))
        freshness = model_freshness(client, settings)
        if freshness is not None:
            parts.append(freshness)
    console = Console(width=120, force_terminal=False)
    with console.capture() as capture:
        console.print(Group(*parts))
    return capture.get()
