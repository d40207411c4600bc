"""Start or join Ray for an experiment: an embedded local instance by default, a cluster on request."""

from __future__ import annotations

import contextlib
import os
from typing import Iterator


@contextlib.contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator[str]:
    """Initialise Ray for the ``with`` block and shut it down afterwards.

    ``address`` (default ``$RAY_ADDRESS``): ``auto`` or ``HOST:PORT`` joins an existing cluster;
    unset starts an embedded instance with ``ray.init(address="local")``. A plain
    ``ray.init()`` would instead join whatever cluster a stale address file in Ray's temp folder
    names (a killed run leaves one) and fail. Yields a description of what was started.
    """
    import ray

    address = address or os.environ.get("RAY_ADDRESS") or None
    if ray.is_initialized():
        yield "ray already initialised by the caller"
        return
    if address:
        ray.init(address=address, log_to_driver=False)
        where = f"Ray cluster at {address}"
    else:
        ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
        where = "embedded local Ray"
    try:
        yield where
    finally:
        ray.shutdown()
