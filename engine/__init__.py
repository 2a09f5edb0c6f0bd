"""The embedded ClickHouse engine (chDB) of this process: one small module that the dbt adapter,
the loaders, the endpoint and the report API all import (engine/embedded.py)."""
