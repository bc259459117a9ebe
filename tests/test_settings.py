"""One settings model: typed, read the same way by the worker and the starter, and every
mistake reported as one line naming the variable."""

from __future__ import annotations

import uuid

import pytest
from temporalio.testing import WorkflowEnvironment

from starter.api import PostPublisher
from starter.cli import EXIT_INVALID, main
from tests.workflow_support import video_request
from worker.config import MediaSettings, WorkerSettings
from worker.sandbox import workflow_runner
from worker.settings import ConfigError, Settings, load_settings, package_version
from workflows.contracts import PublishPostInput, PublishSettings

BUCKET = {"MEDIA_BUCKET": "b", "MEDIA_PHOTO_URLS": "presigned"}


def test_a_bad_number_names_the_variable_in_one_line() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings({"TIKTOK_CHUNK_SIZE": "abc"})
    message = str(err.value)
    assert message.startswith("TIKTOK_CHUNK_SIZE='abc': ") and "integer" in message
    assert "\n" not in message


def test_every_bad_variable_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings({"TIKTOK_CHUNK_SIZE": "1000", "LOG_FORMAT": "xml", "WORKER_VERSIONING": "?"})
    message = str(err.value)
    assert "TIKTOK_CHUNK_SIZE='1000': Input should be greater than or equal to 5000000" in message
    assert "LOG_FORMAT='xml'" in message and "WORKER_VERSIONING='?'" in message


def test_urls_must_be_http_and_empty_means_unset() -> None:
    with pytest.raises(ConfigError, match=r"TIKTOK_API_BASE_URL='open\.tiktokapis\.com': .*http"):
        load_settings({"TIKTOK_API_BASE_URL": "open.tiktokapis.com"})
    assert load_settings({"MEDIA_S3_ENDPOINT_URL": ""}).media_endpoint_url is None


def test_lists_are_comma_separated_and_levels_any_case() -> None:
    s = load_settings(
        {"TIKTOK_VERIFIED_URL_PREFIXES": " a.example, https://b.example/x ,", "LOG_LEVEL": "debug"}
    )
    assert s.verified_url_prefixes == ("a.example", "https://b.example/x")
    assert s.log_level == "DEBUG"


def test_the_client_secret_is_never_shown() -> None:
    s = load_settings({"TIKTOK_CLIENT_SECRET": "s3cret-value"})
    assert s.client_secret.get_secret_value() == "s3cret-value"
    assert "s3cret-value" not in repr(s) and "s3cret-value" not in str(s.model_dump())
    assert "s3cret-value" not in repr(WorkerSettings.from_settings(s))


def test_the_worker_gets_the_models_values() -> None:
    worker = WorkerSettings.from_env(
        {"TIKTOK_CLIENT_SECRET": "x", "WORKER_MAX_CACHED_WORKFLOWS": "7"}
    )
    assert worker.client_secret == "x" and worker.max_cached_workflows == 7
    assert worker.build_id == package_version()
    # The dataclass's own defaults are the model's, declared once.
    assert WorkerSettings().max_cached_workflows == Settings().max_cached_workflows
    media = MediaSettings.from_env({**BUCKET, "TIKTOK_CHUNK_SIZE": "8000000"})
    assert media.chunk_size == 8_000_000 and media.photo_urls == "presigned"


def test_workers_share_our_workflow_modules_unless_told_to_be_strict() -> None:
    # Production shares one copy of workflows/ and activities/ between cached runs; the
    # tests (and WORKER_STRICT_SANDBOX=1) use the SDK's sandbox, which re-executes them per
    # run and so also refuses a clock or I/O call in their own module code.
    assert WorkerSettings.from_env({}).strict_sandbox is False
    assert WorkerSettings.from_env({"WORKER_STRICT_SANDBOX": "1"}).strict_sandbox is True
    shared = workflow_runner().restrictions.passthrough_modules
    strict = workflow_runner(strict=True).restrictions.passthrough_modules
    assert {"workflows", "activities"} <= shared
    assert not {"workflows", "activities"} & strict


def test_a_worker_without_a_bucket_is_refused() -> None:
    with pytest.raises(ConfigError, match="MEDIA_BUCKET is not set"):
        MediaSettings.from_env({})


@pytest.mark.parametrize("command", [["list"], ["worker"], ["status", "p", "a"]])
def test_cli_reports_a_bad_setting_without_a_traceback(
    command: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TIKTOK_CHUNK_SIZE", "abc")
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")  # never reached: settings fail first
    assert main(command) == EXIT_INVALID
    err = capsys.readouterr().err
    assert err.startswith("Configuration error: TIKTOK_CHUNK_SIZE='abc'")
    assert "Traceback" not in err and err.count("\n") == 1


def test_account_pacing_is_checked_with_the_rest() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings({"TIKTOK_ACCOUNT_INIT_PER_MINUTE": "0", "LOG_FORMAT": "xml"})
    message = str(err.value)
    assert "LOG_FORMAT='xml'" in message
    assert "TIKTOK_ACCOUNT_INIT_PER_MINUTE='0': Input should be greater than or equal to 1" in (
        message
    )
    from worker.settings import account_settings_from_env

    assert account_settings_from_env({"TIKTOK_ACCOUNT_DAILY_POST_CAP": "9"}).daily_post_cap == 9


def test_custody_store_and_connect_settings_come_from_the_one_model() -> None:
    from account_store.database import StoreConfigError, open_database
    from starter.tiktok_oauth import OAuthSettings
    from worker.custody import CustodySettings

    custody = CustodySettings.from_env(
        {
            "MEDIA_SOURCE_ALLOW_LOOPBACK": "yes",
            "TIKTOK_CODEC_CORS_ORIGINS": "https://ui.example, http://localhost:8233",
            "MEDIA_PRIVATE_PREFIX": "worker-only/",
        }
    )
    assert custody.allow_loopback_sources and custody.private_prefix == "worker-only/"
    assert custody.codec_cors_origins == ("https://ui.example", "http://localhost:8233")
    assert not CustodySettings.from_env({"MEDIA_SOURCE_ALLOW_LOOPBACK": ""}).allow_loopback_sources
    # What used to be read by hand is now checked like the rest: one line per variable.
    with pytest.raises(ConfigError) as err:
        CustodySettings.from_env({"MEDIA_SOURCE_ALLOW_LOOPBACK": "maybe"})
    assert str(err.value).startswith("MEDIA_SOURCE_ALLOW_LOOPBACK='maybe': ")
    with pytest.raises(ConfigError, match=r"TIKTOK_REDIRECT_URI='/callback': .*http"):
        OAuthSettings.from_env({"TIKTOK_REDIRECT_URI": "/callback"})
    oauth = OAuthSettings.from_env({"TIKTOK_CLIENT_SECRET": "cs", "TIKTOK_SCOPES": "a,b"})
    assert oauth.client_secret == "cs" and oauth.scopes == "a,b"
    with pytest.raises(ConfigError, match="TIKTOK_DB_AUTO_MIGRATE='sometimes'"):
        open_database({"TIKTOK_DB_AUTO_MIGRATE": "sometimes"})
    # A shared database still needs its token key, said in the store's own words.
    with pytest.raises(StoreConfigError, match="TIKTOK_TOKEN_KEYS is not set"):
        open_database({"DATABASE_URL": "postgresql://u:pw@127.0.0.1:1/db"}, migrate=False)


def test_secrets_of_every_group_are_never_shown() -> None:
    secrets = {
        "TIKTOK_PAYLOAD_KEYS": "k1:c2VjcmV0LXBheWxvYWQ=",
        "TIKTOK_CODEC_AUTH_TOKEN": "codec-token-value",
        "TIKTOK_TOKEN_KEYS": "t1:dG9rZW4ta2V5LXZhbHVl",
        "DATABASE_URL": "postgresql://u:db-password@db/accounts",
    }
    s = load_settings(secrets)
    shown = repr(s) + str(s.model_dump())
    for value in secrets.values():
        assert value not in shown


def test_a_worker_without_libmediainfo_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from activities.media_info import library_loads
    from worker import main as worker_main

    assert library_loads()  # the wheel ships it: the real worker starts
    monkeypatch.setattr(worker_main, "library_loads", lambda: False)
    # Nothing global may change on the way out (structlog bound to this test's stderr would
    # break every later test's logging).
    monkeypatch.setattr(worker_main, "configure_logging", lambda *a: pytest.fail("configured"))
    for name, value in {**BUCKET, "TEMPORAL_ADDRESS": "127.0.0.1:1"}.items():
        monkeypatch.setenv(name, value)
    assert main(["worker"]) == EXIT_INVALID
    err = capsys.readouterr().err
    assert err.startswith("Configuration error: libmediainfo cannot be loaded")
    assert "Traceback" not in err


async def test_the_python_api_starts_posts_with_the_publish_settings_it_was_given(
    dev_env: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`PostPublisher.connect(settings=...)` is the environment's Settings, so custom
    PublishSettings had no way in through connect(); `publish_settings=` is that way, and
    every post the publisher starts carries them."""
    monkeypatch.setenv("TEMPORAL_ADDRESS", dev_env.client.service_client.config.target_host)
    monkeypatch.delenv("TIKTOK_PAYLOAD_KEYS", raising=False)
    queue = f"nobody-polls-{uuid.uuid4().hex[:8]}"  # the posts only need to be started
    custom = PublishSettings(poll_initial_seconds=7, publish_deadline_seconds=1234)
    publisher = await PostPublisher.connect(publish_settings=custom, task_queue=queue)
    request = video_request(f"custom-{uuid.uuid4().hex[:6]}", "https://cdn.example/v.mp4")
    [target] = await publisher.submit(request)
    history = await dev_env.client.get_workflow_handle(target.workflow_id).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    [sent] = await dev_env.client.data_converter.decode(started.input.payloads, [PublishPostInput])
    assert sent.settings == custom
    default = await PostPublisher.connect(task_queue=queue)
    assert default.settings == PublishSettings()
    await dev_env.client.get_workflow_handle(target.workflow_id).terminate("test finished")
