"""Pacing across workers, over HTTP against the simulator: what TikTok itself would count."""

from __future__ import annotations

from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from bench.burst import run_burst
from simulator import Simulator, SimulatorConfig
from starter.media_host import MediaHost
from workflows.account_contracts import AccountSettings
from workflows.contracts import PublishSettings

WINDOW = 6.0  # TikTok's rolling minute, scaled down for the test on both sides


async def test_two_workers_one_account_thirty_posts_due_at_once(
    dev_env: WorkflowEnvironment, token_file: Path, media_host: MediaHost
) -> None:
    config = SimulatorConfig(
        time_scale=0.01, rate_limit_window_seconds=WINDOW, direct_posts_per_day=0
    )
    with Simulator(config) as sim:
        report = await run_burst(
            dev_env.client,
            sim,
            media_host,
            token_file,
            posts=30,
            worker_count=2,
            account_settings=AccountSettings(
                window_seconds=WINDOW, safety_margin_seconds=2, rate_limit_pause_seconds=WINDOW
            ),
            settle_seconds=5,
            publish=PublishSettings(poll_initial_seconds=0.5, poll_max_seconds=2),
        )
    assert report.answered_429 == 0, report.lines()
    assert report.max_inits_per_window <= 6, report.lines()
    assert report.init_calls == 30
    assert report.published == 30 and not report.failed, report.lines()
