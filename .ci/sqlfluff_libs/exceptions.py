"""`exceptions` for linting with sqlfluff's jinja templater (dbt provides the real one)."""


def raise_compiler_error(message: str) -> None:
    raise RuntimeError(message)
