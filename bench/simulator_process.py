"""The simulator in a child process, for benchmarks: TikTok's side must not share the
engine's interpreter (its request threads would compete for the GIL with the worker being
measured, which real TikTok never does).

    with simulator_process(SimulatorConfig(time_scale=0.01)) as sim:
        sim.base_url, sim.requests(), sim.publishes()   # the /_sim/ admin API over HTTP
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from simulator.admin import SimulatorAdmin
from simulator.config import SimulatorConfig
from starter.children import stop_child
from telemetry.http import free_loopback_port


@contextlib.contextmanager
def simulator_process(
    config: SimulatorConfig, *, startup_seconds: float = 30.0
) -> Iterator[SimulatorAdmin]:
    """Serve `config` from `python -m simulator` on a free loopback port; yields its admin
    client (`.base_url` is the API's). The child is stopped (SIGTERM, then SIGKILL) after."""
    port = free_loopback_port()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "simulator.json"
        # The file holds the creators' tokens: it lives only in this private directory.
        path.write_text(json.dumps(config.to_dict()), encoding="utf-8")
        process = subprocess.Popen(
            [sys.executable, "-m", "simulator", "--config", str(path), "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        admin = SimulatorAdmin(f"http://127.0.0.1:{port}")
        try:
            deadline = time.monotonic() + startup_seconds
            while True:
                try:
                    if admin.health():
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the simulator did not start on port {port}")
                time.sleep(0.1)
            yield admin
        finally:
            admin.close()
            stop_child(process)
