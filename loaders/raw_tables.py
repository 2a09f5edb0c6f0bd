"""The raw tables of one warehouse, and what every step of a load reads or deletes of a batch."""

from __future__ import annotations

from clickhouse_connect.driver.client import Client

from loaders.schema import QUARANTINE_TABLE, SCORES_TABLE


class RawTables:
    """The raw tables (loaders.schema) of one raw database, through one client."""

    def __init__(self, client: Client, database: str) -> None:
        self.client = client
        self.database = database

    def table(self, name: str) -> str:
        return f"`{self.database}`.`{name}`"

    def counts(self, batch_id: str) -> tuple[int, int]:
        landed, quarantined = self.client.query(
            f"""
            SELECT (SELECT count() FROM {self.table(SCORES_TABLE)} WHERE _batch_id = {{b:String}}),
                   (SELECT count() FROM {self.table(QUARANTINE_TABLE)} WHERE _batch_id = {{b:String}})
            """,
            parameters={"b": batch_id},
        ).result_rows[0]
        return int(landed), int(quarantined)

    def rejected_sample(self, batch_id: str, limit: int) -> list[tuple[int, str, str]]:
        rows = self.client.query(
            f"""
            SELECT row_number, column, reason FROM {self.table(QUARANTINE_TABLE)}
            WHERE _batch_id = {{b:String}} ORDER BY row_number LIMIT {int(limit)}
            """,
            parameters={"b": batch_id},
        ).result_rows
        return [(int(r), str(c), str(m)) for r, c, m in rows]

    def delete_rows(self, batch_id: str) -> None:
        for table in (SCORES_TABLE, QUARANTINE_TABLE):
            self.client.command(
                f"DELETE FROM {self.table(table)} WHERE _batch_id = {{b:String}}",
                parameters={"b": batch_id},
            )
