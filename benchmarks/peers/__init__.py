"""The engines the project is compared with, each on the design's schema: PostgreSQL 15 and DuckDB."""
