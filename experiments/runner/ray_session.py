"""Start or join Ray for an experiment: an embedded local instance by default, a cluster on request.

An address is checked before Ray is asked to connect (``ray.init`` on an address nobody listens
at retries for about a minute before it fails): a malformed address or a refused connection is
a ``ValueError`` that names the address and what was expected.
"""

from __future__ import annotations

import contextlib
import os
import socket
from typing import Iterator

#: Seconds to wait for a TCP connection to the cluster's GCS port before calling it unreachable.
CONNECT_TIMEOUT_S = 5.0


def resolve_address(address: str | None) -> str | None:
    """The address to join: ``address``, else ``$RAY_ADDRESS``, else None (embedded Ray)."""
    return address or os.environ.get("RAY_ADDRESS") or None


def check_address(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Fail fast on an address no Ray cluster answers at.

    ``auto`` (the cluster ``ray start`` recorded on this machine) is left to Ray. ``HOST:PORT``
    and ``ray://HOST:PORT`` (Ray Client) must accept a TCP connection within ``timeout_s`` s.

    Raises:
        ValueError: naming the address, why it failed and what is expected.
    """
    if address in ("auto", "local"):
        return
    hostport = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = hostport.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"Ray address {address!r} is malformed; expected 'auto', HOST:PORT (e.g. 127.0.0.1:6379, "
                         f"what `ray start --head` prints) or ray://HOST:PORT")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as err:
        raise ValueError(f"Ray cluster at {address!r} is not reachable ({err.strerror or err}); expected a running cluster's "
                         f"head (start one with `ray start --head --port {port}`), 'auto', or no address for an embedded Ray") from None


@contextlib.contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator[str]:
    """Initialise Ray for the ``with`` block and shut it down afterwards.

    ``address`` (default ``$RAY_ADDRESS``): ``auto`` or ``HOST:PORT`` joins an existing cluster;
    unset starts an embedded instance with ``ray.init(address="local")``. A plain
    ``ray.init()`` would instead join whatever cluster a stale address file in Ray's temp folder
    names (a killed run leaves one) and fail. ``num_cpus`` sizes the embedded instance (default:
    every core). Yields a description of what was started.

    Raises:
        ValueError: the address is malformed or no cluster answers there (before any work starts).
    """
    import ray

    address = resolve_address(address)
    if ray.is_initialized():
        yield "ray already initialised by the caller"
        return
    if address:
        check_address(address)
        try:
            ray.init(address=address, log_to_driver=False)
        except ConnectionError as err:
            raise ValueError(f"could not join the Ray cluster at {address!r}: {err}. A cluster started with token "
                             f"authentication needs RAY_AUTH_MODE=token and its token (RAY_AUTH_TOKEN or ~/.ray/auth_token) here") from None
        where = f"Ray cluster at {address}"
    else:
        ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
        where = "embedded local Ray"
    try:
        yield where
    finally:
        ray.shutdown()
