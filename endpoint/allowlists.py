"""What exists in the engine and may be used through ``scores serve``: the allow-lists of table
functions, engines, dictionary sources, system tables and statement kinds, the functions and
settings that reach outside a query, and the engine's function catalogue (endpoint/policy.py
applies them)."""

from __future__ import annotations

from dataclasses import dataclass

from endpoint.parsing import DATABASE_STATEMENTS, OBJECT_STATEMENTS

# table functions that read nothing outside the query (numbers, literal values, subqueries)
SAFE_TABLE_FUNCTIONS = frozenset(
    {
        "numbers",
        "numbers_mt",
        "zeros",
        "zeros_mt",
        "generaterandom",
        "generate_series",
        "generateseries",
        "null",
        "values",
        "view",
        "primes",
    }
)
# table engines that keep data in the warehouse directory
SAFE_TABLE_ENGINES = frozenset(
    {
        f"{prefix}{kind}MergeTree"
        for prefix in ("", "Replicated", "Shared")
        for kind in (
            "",
            "Replacing",
            "Summing",
            "Aggregating",
            "Collapsing",
            "VersionedCollapsing",
            "Coalescing",
        )
    }
    | {
        "Memory",
        "Null",
        "Log",
        "TinyLog",
        "StripeLog",
        "EmbeddedRocksDB",
        "Join",
        "Set",
        "Dictionary",
        "MaterializedView",
        "View",
    }
)
SAFE_DATABASE_ENGINES = frozenset({"Atomic", "Ordinary", "Replicated", "Lazy", "Memory"})
# a dictionary may read the warehouse itself (ClickHouse source without a host), nothing else
SAFE_DICTIONARY_SOURCE_KEYS = frozenset(
    {"table", "db", "query", "where", "invalidate_query", "update_field", "update_lag"}
)
DICTIONARY_CREDENTIAL_KEYS = frozenset({"user", "password"})
# scalar functions that reach outside the query, by name (lower case); the engine's catalogue adds
# every function of the categories below (see FunctionCatalogue)
HOST_FUNCTIONS = frozenset(
    {
        "file",
        "filesystemavailable",
        "filesystemcapacity",
        "filesystemunreserved",
        "getserversetting",
        "showcertificate",
        "generateserialid",
        "catboostevaluate",
        "getmacro",
        "logtrace",
    }
)
HOST_FUNCTION_CATEGORIES = frozenset({"AI", "Introspection", "Internal"})
DICTIONARY_FUNCTIONS_PREFIXES = ("dictget", "dicthas", "dictisin")
# settings only the endpoint sets: they keep users apart (scope, parsing) or are the engine's
# safety rails; their values are fixed per connection
RESERVED_SETTINGS = frozenset(
    {
        "profile",
        "log_comment",
        "dialect",
        "enable_json_ast_dialect",
        "readonly",
        "input_format_values_interpret_expressions",
        "input_format_values_deduce_templates_of_expressions",
        "allow_introspection_functions",
        "allow_ddl",
        "max_parser_depth",
        "max_parser_backtracks",
        "max_query_size",
        "max_ast_elements",
        "max_ast_depth",
        "allow_experimental_analyzer",
        "enable_analyzer",
        "query_cache_system_table_handling",
        "additional_table_filters",
        "additional_result_filter",
        "allow_python_table_function",
        # results cached for one connection must not answer another (all run as `default`)
        "use_query_cache",
        "enable_reads_from_query_cache",
        "enable_writes_to_query_cache",
        "query_cache_share_between_users",
        # a table on a disk made up at CREATE time could sit anywhere on the host
        "disk",
        "dynamic_disk_allow_from_env",
        "dynamic_disk_allow_include",
        "dynamic_disk_allow_from_zk",
    }
)
# settings that name host files or servers (template and schema files, error logs, schema
# registries): no client may point the engine at a path or a URL
PATH_SETTING_PARTS = ("path", "_url", "format_schema", "format_template", "output_format_schema", "_file")
# system tables every user may read: catalogue metadata that clients (clickhouse-connect,
# Superset, dbt) ask for; nothing about other queries, users or the host
METADATA_SYSTEM_TABLES = frozenset(
    {
        "one",
        "numbers",
        "numbers_mt",
        "zeros",
        "zeros_mt",
        "databases",
        "tables",
        "columns",
        "functions",
        "table_functions",
        "settings",
        "formats",
        "data_type_families",
        "time_zones",
        "collations",
        "contributors",
        "build_options",
        "table_engines",
        "aggregate_function_combinators",
        "keywords",
        "licenses",
        "dictionaries",
        "data_skipping_indices",
        "settings_changes",
        "merge_tree_settings",
        "database_engines",
        "current_roles",
        "enabled_roles",
        "quota_usage",
    }
)
# ... and writers (dbt, loaders) also the tables' physical state
WRITER_SYSTEM_TABLES = METADATA_SYSTEM_TABLES | frozenset(
    {
        "parts",
        "parts_columns",
        "projection_parts",
        "detached_parts",
        "mutations",
        "merges",
        "disks",
        "storage_policies",
        "projections",
        "replicas",
        "distribution_queue",
        "clusters",
        "macros",
        "moves",
        "part_moves_between_shards",
        "asynchronous_inserts",
    }
)
SCHEMA_DATABASES = frozenset({"information_schema", "INFORMATION_SCHEMA"})
READ_KINDS = frozenset(
    {
        "SelectWithUnionQuery",
        "SelectIntersectExceptQuery",
        "ExplainQuery",
        "ShowTablesQuery",
        "ShowColumnsQuery",
        "ShowIndexesQuery",
        "ShowEngineQuery",
        "ShowFunctions",
        "UseQuery",
        "SetQuery",
        "KillQueryQuery",
        "CheckTableQuery",
        *OBJECT_STATEMENTS,
        *DATABASE_STATEMENTS,
    }
)
WRITE_KINDS = frozenset(
    {
        "InsertQuery",
        "CreateQuery",
        "DropQuery",
        "AlterQuery",
        "RenameQuery",
        "OptimizeQuery",
        "DeleteQuery",
        "UpdateQuery",
        "SystemQuery",
    }
)
WRITER_SYSTEM_COMMANDS = frozenset(
    {
        "RELOAD_DICTIONARY",
        "RELOAD_DICTIONARIES",
        "FLUSH_LOGS",
        "SYNC_REPLICA",
        "STOP_MERGES",
        "START_MERGES",
        "STOP_TTL_MERGES",
        "START_TTL_MERGES",
        "WAIT_LOADING_PARTS",
        "CLEAR_MARK_CACHE",
        "CLEAR_UNCOMPRESSED_CACHE",
        "CLEAR_QUERY_CACHE",
        "CLEAR_QUERY_CONDITION_CACHE",
        "DROP_MARK_CACHE",
        "DROP_UNCOMPRESSED_CACHE",
        "DROP_QUERY_CACHE",
        "SYNC_TRANSACTION_LOG",
        "FLUSH_ASYNC_INSERT_QUEUE",
    }
)
HOST_ALTER_COMMANDS = frozenset(
    {
        "FETCH_PARTITION",
        "FREEZE_ALL",
        "FREEZE_PARTITION",
        "UNFREEZE_ALL",
        "UNFREEZE_PARTITION",
        "ATTACH_PARTITION_FROM_PATH",
    }
)
IN_FUNCTIONS = frozenset(
    {"in", "notin", "globalin", "globalnotin", "nullin", "notnullin", "globalnullin", "globalnotnullin"}
)


@dataclass(frozen=True)
class FunctionCatalogue:
    """The engine's function catalogue: which names are host functions, resolving aliases."""

    denied: frozenset[str]

    @classmethod
    def from_engine(cls, rows: list[tuple[str, str, str, int]]) -> FunctionCatalogue:
        """rows: (name, alias_to, categories, case_insensitive) from system.functions."""
        canonical_denied = {
            name.lower()
            for name, _, categories, _ in rows
            if name.lower() in HOST_FUNCTIONS
            or any(c.strip() in HOST_FUNCTION_CATEGORIES for c in categories.split(","))
        }
        denied = set(canonical_denied)
        for name, alias_to, _, _ in rows:
            if alias_to and alias_to.lower() in canonical_denied:
                denied.add(name.lower())
        return cls(frozenset(denied | HOST_FUNCTIONS))

    def is_denied(self, name: str) -> bool:
        lowered = name.lower()
        return lowered in self.denied or lowered.startswith("__")
