"""A faithful local simulator of TikTok's Content Posting API (see simulator/README.md).

from simulator import Simulator, SimulatorConfig

with Simulator(SimulatorConfig(time_scale=0.01)) as sim:
    client = TikTokClient(base_url=sim.base_url)  # production client, unchanged
    ...
"""

from simulator.admin import SimulatorAdmin
from simulator.cli import main
from simulator.config import (
    DEMO_ACCESS_TOKEN,
    DEMO_REFRESH_TOKEN,
    ENDPOINTS,
    CreatorConfig,
    SimulatorConfig,
)
from simulator.server import Simulator

__all__ = [
    "DEMO_ACCESS_TOKEN",
    "DEMO_REFRESH_TOKEN",
    "ENDPOINTS",
    "CreatorConfig",
    "Simulator",
    "SimulatorAdmin",
    "SimulatorConfig",
    "main",
]
