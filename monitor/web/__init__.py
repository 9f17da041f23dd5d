"""The read side over HTTP: server, API, status page and metrics."""
