"""`target` for linting with sqlfluff's jinja templater (dbt provides the real one)."""

schema = "scores"
name = "dev"
type = "chdb"
