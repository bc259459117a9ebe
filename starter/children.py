"""Child processes of the local stack, the tests and the benchmarks: a stop that cannot hang.
(A free port to give one: `telemetry.http.free_loopback_port`.)"""

from __future__ import annotations

import subprocess


def stop_child(process: subprocess.Popen[bytes], grace: float = 10) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `grace` seconds; reaped either way."""
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
