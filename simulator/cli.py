"""`python -m simulator` / `tiktok-publisher simulator`: serve until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from dataclasses import replace
from types import FrameType
from typing import Any

from simulator.config import SimulatorConfig
from simulator.server import Simulator


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="simulator",
        description="Serve a local TikTok Content Posting API simulator (see simulator/README.md).",
    )
    parser.add_argument("--host", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port; 0 picks a free one (default 0)")
    parser.add_argument("--config", metavar="FILE", help="JSON config file (simulator/README.md)")
    parser.add_argument(
        "--time-scale",
        type=float,
        help="multiplier for simulated durations (processing, moderation); 0.01 = 100x faster",
    )
    return parser


def load_config(args: argparse.Namespace) -> SimulatorConfig:
    """The config file (or the default config) with command-line overrides on top."""
    config = SimulatorConfig.from_file(args.config) if args.config else SimulatorConfig()
    overrides: dict[str, Any] = {}
    if args.host is not None:
        overrides["host"] = args.host
    if args.port is not None:
        overrides["port"] = args.port
    if args.time_scale is not None:
        overrides["time_scale"] = args.time_scale
    return replace(config, **overrides) if overrides else config


def main(argv: list[str] | None = None) -> int:
    """Start the simulator, print one line with its URL and demo token, serve until signalled."""
    args = build_parser().parse_args(argv)
    try:
        config = load_config(args)
    except (OSError, ValueError) as exc:
        print(f"simulator: bad configuration: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    previous: dict[signal.Signals, Any] = {}

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, on_signal)
    simulator = Simulator(config)
    try:
        simulator.start()
    except OSError as exc:
        print(f"simulator: cannot listen on {config.host}:{config.port}: {exc}", file=sys.stderr)
        return 1
    try:
        token = config.creators[0].access_token if config.creators else "(no creators)"
        print(
            f"TikTok simulator listening on {simulator.base_url} access_token={token}", flush=True
        )
        while not stop.wait(0.5):
            pass
    finally:
        simulator.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0
