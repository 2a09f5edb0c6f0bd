"""The `scores` command line: a thin layer over the loaders (loaders/), the endpoint (endpoint/)
and the report API (api/); nothing imports it."""
