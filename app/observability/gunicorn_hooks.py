"""gunicorn server hooks for the metrics' multiprocess mode, used as a configuration module:

    PROMETHEUS_MULTIPROC_DIR=/run/cardoffice/metrics \\
        gunicorn -c python:app.observability.gunicorn_hooks -w 4 'app:create_app()'

They do nothing when PROMETHEUS_MULTIPROC_DIR is unset.
"""

import glob
import os

from prometheus_client import multiprocess


def on_starting(_server) -> None:
    """Before the workers start: an empty directory, so that counts of an earlier run (other
    process ids) are not added to this one's."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for path in glob.glob(os.path.join(directory, "*.db")):
            os.remove(path)


def child_exit(_server, worker) -> None:
    """A worker ended: its live gauges no longer count (its counters and histograms do)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
