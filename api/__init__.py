"""The report API: the design's reports over HTTP and JSON, cached by build, scoped by the roster."""
