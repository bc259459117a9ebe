"""PULL_FROM_URL: really download the media, off the request thread, as TikTok would.

Each pull gets a daemon thread that streams every URL with httpx, counting bytes into the
publish and keeping none of them. Like TikTok it follows no redirects (a 3xx fails the pull)
and gives up after the (scaled) download timeout. The thread stops early when the publish is
cancelled, the simulator is reset, or the simulator stops.
"""

from __future__ import annotations

import logging
import threading
import time

import httpx

from simulator.state import SimulatorState

logger = logging.getLogger(__name__)

READ_TIMEOUT_SECONDS = 30.0
PIECE = 64 * 1024


class PullWorker:
    """Starts and runs download threads for URL-sourced publishes."""

    def __init__(self, state: SimulatorState, stopping: threading.Event) -> None:
        self._state = state
        self._stopping = stopping
        # One client for every pull (httpx clients are thread-safe): building one costs a
        # TLS context, about as much CPU as a small photo's whole pull.
        self._client = httpx.Client(follow_redirects=False, trust_env=False)

    def start(self, publish_id: str, urls: list[str], photo: bool, delay: float = 0.0) -> None:
        """Pull in the background; `delay` (simulated seconds) before the first byte."""
        thread = threading.Thread(
            target=self._run,
            args=(publish_id, list(urls), photo, delay),
            name=f"sim-pull-{publish_id[-8:]}",
            daemon=True,
        )
        thread.start()

    def _run(self, publish_id: str, urls: list[str], photo: bool, delay: float) -> None:
        reason = "photo_pull_failed" if photo else "video_pull_failed"
        cfg = self._state.config
        if delay > 0 and self._stopping.wait(cfg.scaled(delay)):
            return
        deadline = time.monotonic() + cfg.scaled(cfg.download_timeout_seconds)
        empty = False
        try:
            client = self._client
            for url in urls:
                remaining = max(0.1, deadline - time.monotonic())
                timeout = httpx.Timeout(min(READ_TIMEOUT_SECONDS, remaining))
                with client.stream("GET", url, timeout=timeout) as response:
                    if not response.is_success:
                        logger.info("pull %s: HTTP %s", url, response.status_code)
                        self._state.fail_pull(publish_id, reason)
                        return
                    received = 0
                    for piece in response.iter_bytes(PIECE):
                        if self._stopping.is_set():
                            return
                        if not self._state.add_downloaded(publish_id, len(piece)):
                            return
                        received += len(piece)
                        if time.monotonic() > deadline:
                            self._state.fail_pull(publish_id, reason)
                            return
                    empty = empty or received == 0
        except httpx.HTTPError as exc:
            logger.info("pull for %s failed: %s", publish_id, type(exc).__name__)
            self._state.fail_pull(publish_id, reason)
            return
        except Exception:  # a bug here must not leave the publish stuck downloading
            logger.exception("pull for %s crashed", publish_id)
            self._state.fail_pull(publish_id, "internal")
            return
        if not self._stopping.is_set():
            self._state.finish_pull(publish_id, empty)
