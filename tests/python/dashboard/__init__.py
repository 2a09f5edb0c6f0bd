"""The Superset tests: a package, so that its conftest.py and stack.py have names of their own
(superset.conftest next to tests/python/conftest.py) for pytest and mypy alike."""
