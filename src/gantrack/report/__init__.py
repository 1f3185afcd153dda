"""The run report: ``figures`` (matplotlib pictures as PNG bytes) and ``page`` (one
self-contained HTML page: every picture inline, no script, no network)."""
