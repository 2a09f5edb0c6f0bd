"""A ClickHouse-compatible HTTP endpoint over the embedded engine (``scores serve``)."""
