"""A real multi-node Ray cluster on this machine, on the loopback interface: for tests and the
sweep benchmark (``codesign-gym bench sweep``), never for production (use ``ray start`` on each
machine, ``ray up`` or KubeRay there; see docs/cluster.md).

Each node is a ``ray start --block`` process started in a session of its own, so every process
of the node (GCS, raylet, workers; Ray workers change their process group but keep the session)
can be found by that session id and killed, and nothing else is touched: no ``ray stop``, which
would end every Ray process on the machine. Nodes get ``--node-ip-address=127.0.0.1``, a short
``--temp-dir`` of their own (Unix socket paths are limited to about 107 characters), short
health-check timeouts (a killed node is declared dead in about 2 s) and token authentication
with a fresh random token; :attr:`LocalCluster.driver_env` is the environment a driver process
needs to join (the token), e.g. ``subprocess.run([...], env=cluster.driver_env)``.

    with LocalCluster() as cluster:
        cluster.start_head(num_cpus=1, resources={"slot": 1})
        cluster.add_node("b", num_cpus=1, resources={"slot": 1, "nodeB": 1})
        subprocess.run(["codesign-gym", "sweep", "s.yaml", "--address", cluster.address], env=cluster.driver_env)
        cluster.kill_node("b")
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: Health-check settings of the test cluster's GCS: period and timeout in ms, missed checks.
HEALTH_CHECK_ENV = {
    "RAY_health_check_initial_delay_ms": "0",
    "RAY_health_check_period_ms": "500",
    "RAY_health_check_timeout_ms": "500",
    "RAY_health_check_failure_threshold": "3",
}
#: Object store per node, bytes (Ray's minimum is 75 MiB; the default, 30% of RAM, is far more than a test needs).
OBJECT_STORE_BYTES = 100 * 2**20


@dataclasses.dataclass
class LocalNode:
    """One node: its ``ray start --block`` process (a session leader), temp dir and log file."""

    name: str
    process: subprocess.Popen
    temp_dir: Path
    log: Path

    @property
    def session(self) -> int:
        return self.process.pid


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def session_pids(session: int) -> list[int]:
    """Ids of the live processes of session ``session`` (read from /proc; Linux)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": state ppid pgrp session ...
        if int(fields[3]) == session and fields[0] != "Z":
            pids.append(int(entry))
    return pids


def kill_session(session: int) -> None:
    """SIGKILL every process of session ``session`` (a process started with
    ``start_new_session=True`` has its pid as session id), repeating until none is left."""
    for _ in range(100):
        pids = session_pids(session)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)


class LocalCluster:
    """Loopback Ray nodes started and ended by this object (see the module docstring).

    Args:
        startup_timeout_s: how long a node may take to come up before :class:`RuntimeError`.
    """

    def __init__(self, startup_timeout_s: float = 60.0):
        self.root = Path(tempfile.mkdtemp(dir="/tmp", prefix="cg"))
        self.port = free_port()
        self.nodes: dict[str, LocalNode] = {}
        self.startup_timeout_s = startup_timeout_s
        token = secrets.token_hex(32)
        base = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
        auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token}
        self.node_env = {**base, **HEALTH_CHECK_ENV, **auth, "RAY_USAGE_STATS_ENABLED": "0"}
        #: Environment of a driver process that joins this cluster (auth token, no stray RAY_ADDRESS).
        self.driver_env = {**base, **auth, "RAY_USAGE_STATS_ENABLED": "0"}

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start_head(self, num_cpus: int = 1, resources: dict[str, float] | None = None) -> LocalNode:
        """Start the head node (GCS on :attr:`port`), no dashboard."""
        args = ["--head", f"--port={self.port}", "--include-dashboard=false"]
        return self._start("head", args, num_cpus, resources)

    def add_node(self, name: str, num_cpus: int = 1, resources: dict[str, float] | None = None) -> LocalNode:
        """Start a worker node that joins the head; ``resources`` are its custom resources."""
        if "head" not in self.nodes:
            raise RuntimeError("start the head node first (start_head)")
        return self._start(name, [f"--address={self.address}"], num_cpus, resources)

    def _start(self, name: str, args: list[str], num_cpus: int, resources: dict[str, float] | None) -> LocalNode:
        if name in self.nodes:
            raise ValueError(f"node {name!r} exists already")
        temp = self.root / name[:8]
        log = self.root / f"{name[:8]}.log"
        ray_cli = str(Path(sys.executable).with_name("ray"))
        cmd = [ray_cli, "start", *args, "--node-ip-address=127.0.0.1", f"--temp-dir={temp}", f"--num-cpus={num_cpus}",
               f"--resources={json.dumps(resources or {})}", f"--object-store-memory={OBJECT_STORE_BYTES}",
               "--disable-usage-stats", "--block"]
        with log.open("w") as fh:
            proc = subprocess.Popen(cmd, env=self.node_env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        node = LocalNode(name, proc, temp, log)
        self.nodes[name] = node
        deadline = time.monotonic() + self.startup_timeout_s
        while "Ray runtime started" not in log.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                text = log.read_text()[-2000:]
                self.kill_node(name)
                raise RuntimeError(f"Ray node {name!r} did not start ({'exited ' + str(proc.returncode) if proc.returncode is not None else 'timed out'}):\n{text}")
            time.sleep(0.1)
        return node

    def kill_node(self, name: str) -> None:
        """SIGKILL every process of node ``name`` (its session), as if the machine died."""
        node = self.nodes.pop(name)
        kill_session(node.session)
        try:
            node.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def shutdown(self) -> None:
        """Kill every node this object started (workers first) and remove the temp dir."""
        for name in [n for n in self.nodes if n != "head"] + [n for n in self.nodes if n == "head"]:
            self.kill_node(name)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "LocalCluster":
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
