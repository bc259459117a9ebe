"""Config defaults and JSON loading, the README's coverage of the admin API, and the CLI."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import simulator
from simulator import CreatorConfig, Simulator, SimulatorAdmin, SimulatorConfig
from simulator.admin_api import AdminApi
from simulator.state import SimulatorState
from tests.conftest_simulator import TikTok, assert_envelope

REPO = Path(__file__).resolve().parents[1]
README = REPO / "simulator" / "README.md"


def test_default_config_has_one_demo_creator() -> None:
    config = SimulatorConfig()
    assert (config.host, config.port, config.time_scale) == ("127.0.0.1", 0, 1.0)
    assert config.verified_url_prefixes == ["127.0.0.1", "localhost", "::1"]
    assert (config.client_key, config.client_secret) == ("sim-client-key", "sim-client-secret")
    assert (config.direct_posts_per_day, config.pending_inbox_shares_per_day) == (15, 5)
    assert (config.processing_seconds, config.moderation_seconds) == (2.0, 3.0)
    assert config.access_token_ttl_seconds == 86400
    [demo] = config.creators
    assert (demo.access_token, demo.refresh_token, demo.username) == (
        "act.demo",
        "rft.demo",
        "demo_creator",
    )
    assert demo.app_audited and not demo.private_account
    assert demo.privacy_level_options == [
        "PUBLIC_TO_EVERYONE",
        "MUTUAL_FOLLOW_FRIENDS",
        "SELF_ONLY",
    ]
    assert demo.scopes == {"user.info.basic", "video.publish", "video.upload"}


def test_creator_defaults_depend_on_account_type() -> None:
    private = CreatorConfig(access_token="act.p", refresh_token="rft.p", private_account=True)
    assert private.privacy_level_options == [
        "FOLLOWER_OF_CREATOR",
        "MUTUAL_FOLLOW_FRIENDS",
        "SELF_ONLY",
    ]
    assert private.open_id.startswith("open.")
    again = CreatorConfig(access_token="act.p", refresh_token="rft.other")
    assert again.open_id == private.open_id  # derived from the access token
    with pytest.raises(ValueError):
        CreatorConfig(access_token="act.x", refresh_token="rft.x", privacy_level_options=["ALL"])


def test_config_from_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "sim.json"
    path.write_text(
        json.dumps(
            {
                "port": 8765,
                "time_scale": 0.5,
                "verified_url_prefixes": ["media.example.com", "https://cdn.example.net/v/"],
                "rate_limits": {"video_init": 2},
                "direct_posts_per_day": 3,
                "creators": [
                    {
                        "access_token": "act.alice",
                        "refresh_token": "rft.alice",
                        "open_id": "open.alice",
                        "username": "alice",
                        "private_account": True,
                        "scopes": ["video.upload"],
                    }
                ],
            }
        )
    )
    config = SimulatorConfig.from_file(path)
    assert config.port == 8765 and config.time_scale == 0.5
    assert config.rate_limits["video_init"] == 2 and config.rate_limits["status_fetch"] == 30
    [alice] = config.creators
    assert alice.scopes == {"video.upload"} and alice.nickname == "alice"
    assert SimulatorConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


@pytest.mark.parametrize(
    "data",
    [
        {"prot": 1},
        {"time_scale": "fast"},
        {"time_scale": -1},
        {"rate_limits": {"uploads": 1}},
        {"creators": [{"access_token": "act.a"}]},
        {"creators": [{"access_token": "act.a", "refresh_token": "rft.a", "colour": 1}]},
        {
            "creators": [
                {"access_token": "act.a", "refresh_token": "rft.a"},
                {"access_token": "act.a", "refresh_token": "rft.b"},
            ]
        },
    ],
)
def test_bad_config_is_rejected(data: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        SimulatorConfig.from_dict(data)


def test_readme_documents_every_admin_route_and_config_key() -> None:
    text = README.read_text(encoding="utf-8")
    paths = AdminApi(SimulatorState(SimulatorConfig())).paths
    assert "/_sim/faults" in paths
    for path in paths:
        assert path in text, f"{path} is not documented in simulator/README.md"
    for key in SimulatorConfig().to_dict():
        assert f"`{key}`" in text, f"config key {key} is not documented"
    for key in CreatorConfig(access_token="a", refresh_token="b").to_dict():
        assert f"`{key}`" in text, f"creator key {key} is not documented"


def test_simulator_runs_on_ipv6_loopback_or_skips() -> None:
    try:
        sim = Simulator(SimulatorConfig(host="::1"))
        sim.start()
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    try:
        assert sim.base_url.startswith("http://[::1]:")
        with TikTok(sim.base_url, "act.demo") as tt:
            assert_envelope(tt.post("creator_info"))
    finally:
        sim.stop()


def test_stop_is_idempotent_and_base_url_needs_start() -> None:
    sim = Simulator()
    with pytest.raises(RuntimeError):
        _ = sim.base_url
    sim.start()
    with pytest.raises(RuntimeError):
        sim.start()
    sim.stop()
    sim.stop()


# -- CLI -------------------------------------------------------------------------------------


def test_main_rejects_a_missing_config_file(tmp_path: Path) -> None:
    assert simulator.main(["--config", str(tmp_path / "absent.json")]) == 2


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_cli_serves_until_signalled(tmp_path: Path, sig: signal.Signals) -> None:
    config = tmp_path / "sim.json"
    config.write_text(json.dumps({"processing_seconds": 0.5}))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "simulator", "--port", "0", "--time-scale", "0.01"]
    proc = subprocess.Popen(
        [*command, "--config", str(config)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+)", line)
        assert match, f"unexpected first line: {line!r}"
        assert "act.demo" in line
        base_url = match.group(1)
        with SimulatorAdmin(base_url) as admin:
            assert admin.health()
            assert admin.config()["time_scale"] == 0.01
            assert admin.config()["processing_seconds"] == 0.5
        response = httpx.post(
            f"{base_url}/v2/post/publish/creator_info/query/",
            headers={"Authorization": "Bearer act.demo"},
            trust_env=False,
        )
        assert response.json()["error"]["code"] == "ok"
        proc.send_signal(sig)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()
