"""`adapter` for linting with sqlfluff's jinja templater (dbt provides the real one)."""


def get_clickhouse_cluster_name() -> None:
    return None
