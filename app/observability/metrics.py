"""Prometheus metrics: the requests served and their latency, counted in the process, and the
database's figures (tasks, incidents, journal, timers), computed when /metrics is read.

Under gunicorn every worker process counts its own requests. With PROMETHEUS_MULTIPROC_DIR
set (an empty directory, before the processes start) prometheus_client keeps each process's
counts in files there and /metrics, whichever worker answers it, adds up every worker's; the
gunicorn hooks in app.observability.gunicorn empty the directory when gunicorn starts and
note a worker's exit. Without it, /metrics shows only the answering worker's counts, which is
right for a single process (`flask run`, gunicorn -w 1).
"""

import os

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

#: This process's request metrics (a registry of their own: the global one belongs to
#: whatever else imports prometheus_client).
HTTP_REGISTRY = CollectorRegistry()

REQUESTS = Counter(
    "cardoffice_http_requests",
    "HTTP requests answered, by method, Flask endpoint and status.",
    ["method", "endpoint", "status"],
    registry=HTTP_REGISTRY,
)
LATENCY = Histogram(
    "cardoffice_http_request_duration_seconds",
    "Seconds from a request's arrival to its response, by method and Flask endpoint.",
    ["method", "endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=HTTP_REGISTRY,
)

#: Label values stay few whatever callers send: other methods count as "other", requests
#: that match no route as endpoint "none".
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def observe_request(method: str, endpoint: str | None, status: int, seconds: float) -> None:
    """Count one answered request and its duration."""
    method = method if method in METHODS else "other"
    endpoint = endpoint or "none"
    REQUESTS.labels(method, endpoint, str(status)).inc()
    LATENCY.labels(method, endpoint).observe(seconds)


def multiprocess_dir() -> str | None:
    """The directory of prometheus_client's multiprocess mode, if it is on."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def ensure_multiprocess_dir() -> None:
    """Create the multiprocess directory if it is named and missing: prometheus_client
    would otherwise fail the first request that counts (with `flask run`, say)."""
    directory = multiprocess_dir()
    if directory:
        os.makedirs(directory, exist_ok=True)


class _Forward:
    """Collects another registry's metrics (the request metrics) into the scrape's registry."""

    def __init__(self, registry: CollectorRegistry):
        self.registry = registry

    def collect(self):
        """The forwarded registry's metric families."""
        return self.registry.collect()


def exposition(database_collector, accept: str | None) -> tuple[bytes, str]:
    """The body and content type of a scrape: the request metrics (every worker's in
    multiprocess mode) and `database_collector`'s, in the format `accept` asks for."""
    registry = CollectorRegistry(auto_describe=False)  # nothing collected before it is asked
    directory = multiprocess_dir()
    if directory:
        MultiProcessCollector(registry, path=directory)
    else:
        registry.register(_Forward(HTTP_REGISTRY))
    registry.register(database_collector)
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type
