"""dbt adapter ``chdb``: dbt-clickhouse running on embedded ClickHouse (chDB).

Everything (SQL generation, materializations, incremental strategies, macros) is inherited from
dbt-clickhouse; the plugin only changes how the client is created: instead of an HTTP
connection to a server, a clickhouse-connect client on the chDB engine stored in a local
directory (profile field ``path``). Models therefore run unchanged on both targets.

    dev:
      type: chdb
      path: data/chdb        # relative paths resolve against the dbt project directory
      schema: scores
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

# each name from the module that defines it: the packages' __init__ re-export them implicitly only
from dbt.adapters.base.plugin import AdapterPlugin
from dbt.adapters.clickhouse.connections import ClickHouseConnectionManager
from dbt.adapters.clickhouse.credentials import ClickHouseCredentials
from dbt.adapters.clickhouse.httpclient import ChHttpClient
from dbt.adapters.clickhouse.impl import ClickHouseAdapter
from dbt.adapters.clickhouse.logger import logger
from dbt.adapters.exceptions.connection import FailedToConnectError
from dbt.include import chdb as chdb_include

from engine.embedded import WarehouseBusyError, WarehouseOpenError, open_embedded_client


@dataclass
class ChdbCredentials(ClickHouseCredentials):
    """ClickHouse credentials plus the chDB data directory."""

    path: str = "data/chdb"

    @property
    def type(self) -> str:
        return "chdb"

    @property
    def unique_field(self) -> str:
        return self.resolved_path()

    def resolved_path(self) -> str:
        """The data directory; a relative ``path`` is taken relative to the dbt project directory."""
        if os.path.isabs(self.path):
            return self.path
        try:
            from dbt.flags import get_flags

            base = str(getattr(get_flags(), "PROJECT_DIR", None) or os.getcwd())
        except Exception:
            base = os.getcwd()
        return os.path.realpath(os.path.join(base, self.path))

    def _connection_keys(self) -> tuple[str, ...]:
        return ("path", "schema", "custom_settings", "use_lw_deletes")


class ChdbClient(ChHttpClient):
    """dbt-clickhouse's clickhouse-connect wrapper with an in-process chDB client."""

    def _create_client(self, credentials: ChdbCredentials) -> Any:  # type: ignore[override]
        try:
            return open_embedded_client(credentials.resolved_path(), settings=self._conn_settings)
        except (WarehouseBusyError, WarehouseOpenError) as ex:
            raise FailedToConnectError(str(ex)) from None

    def _server_version(self) -> str:
        return str(self._client.server_version)


class ChdbConnectionManager(ClickHouseConnectionManager):
    TYPE = "chdb"

    @classmethod
    def open(cls, connection: Any) -> Any:
        if connection.state == "open":
            return connection
        credentials = cls.get_credentials(connection.credentials)

        def connect() -> ChdbClient:
            credentials.driver = "http"
            return ChdbClient(credentials)

        return cls.retry_connection(
            connection,
            connect=connect,
            logger=logger,
            retry_limit=0,
            retryable_exceptions=[],
        )


class ChdbAdapter(ClickHouseAdapter):
    ConnectionManager = ChdbConnectionManager

    @classmethod
    def type(cls) -> str:
        return "chdb"


Plugin = AdapterPlugin(
    adapter=ChdbAdapter,  # type: ignore[arg-type]
    credentials=ChdbCredentials,
    include_path=chdb_include.PACKAGE_PATH,
    dependencies=["clickhouse"],
)
