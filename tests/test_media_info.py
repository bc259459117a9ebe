"""Media facts from libmediainfo, on real files an encoder made at test time.

The clips come from the ffmpeg binary of the imageio-ffmpeg wheel: tiny (a second, 640x360),
made once per session. Each is probed through the ranged-read seam (`RangeFile`), and the
checks TikTok would apply at publish time are applied to what libmediainfo measured.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import imageio_ffmpeg
import pytest
from temporalio.testing import WorkflowEnvironment

from activities.media_info import RangeFile, probe
from activities.media_probe import BytesReader, MediaKind
from activities.media_store import MediaStore
from starter.local_s3 import LocalBucket
from starter.media_host import MediaHost, sample_video
from tests.s3_support import S3Bucket, moto_endpoint, s3_bucket
from tests.workflow_support import failure_of, start, target_of, video_request
from workflows.validation import format_loc, measured_findings

__all__ = ["moto_endpoint", "s3_bucket"]

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()

#: name -> ffmpeg arguments after the input (lavfi test pattern of `size` at `rate`).
CLIPS: dict[str, tuple[str, int, list[str]]] = {
    "h264.mp4": ("640x360", 30, ["-c:v", "libx264", "-pix_fmt", "yuv420p"]),
    "h265.mp4": ("640x360", 25, ["-c:v", "libx265", "-pix_fmt", "yuv420p", "-tag:v", "hvc1",
                                 "-x265-params", "log-level=none"]),
    "vp9.webm": ("640x360", 24, ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"]),
    "vp8.webm": ("640x360", 60, ["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8"]),
    "h264.mov": ("640x360", 30, ["-c:v", "libx264", "-pix_fmt", "yuv420p"]),
    "mpeg4.mov": ("640x360", 30, ["-c:v", "mpeg4"]),
    "av1.mp4": ("640x360", 30, ["-c:v", "libaom-av1", "-cpu-used", "8", "-row-mt", "1"]),
    "h264-20fps.mp4": ("640x360", 20, ["-c:v", "libx264", "-pix_fmt", "yuv420p"]),
    "h264-72fps.mp4": ("640x360", 72, ["-c:v", "libx264", "-pix_fmt", "yuv420p"]),
    "h264-320x240.mp4": ("320x240", 30, ["-c:v", "libx264", "-pix_fmt", "yuv420p"]),
    "h264-long.mp4": ("640x360", 30, ["-c:v", "libx264", "-b:v", "6M", "-pix_fmt", "yuv420p"]),
}  # fmt: skip
PHOTOS = {
    "1080p.jpg": "1920x1080",
    "portrait.jpg": "1080x1920",
    "too-big.jpg": "2048x1152",
    "square.webp": "1080x1080",
}


def _run(*args: str) -> None:
    subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-y", *args], check=True,
                   timeout=120)  # fmt: skip


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], bytes]:
    """Encode each clip on first use; the session keeps them."""
    folder = tmp_path_factory.mktemp("clips")

    def clip(name: str) -> bytes:
        path = folder / name
        if not path.exists():
            if name == "rotated.mp4":  # the h264 clip, shown turned a quarter
                source = folder / "h264.mp4"
                clip("h264.mp4")
                _run("-display_rotation", "90", "-i", str(source), "-c", "copy", str(path))
            elif name in PHOTOS:
                _run("-f", "lavfi", "-i", f"testsrc=size={PHOTOS[name]}", "-frames:v", "1",
                     str(path))  # fmt: skip
            else:
                size, rate, codec = CLIPS[name]
                seconds = "3" if name == "h264-long.mp4" else "1"
                _run("-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}", "-t", seconds,
                     *codec, str(path))  # fmt: skip
        return path.read_bytes()

    return clip


def findings(data: bytes, *, is_video: bool = True) -> list[tuple[str, str]]:
    facts = probe(BytesReader(data))
    found = measured_findings(
        is_video=is_video,
        codec=facts.video_codec,
        frame_rate=facts.frame_rate,
        width=facts.width,
        height=facts.height,
    )
    return [(f.code, format_loc(f.loc)) for f in found]


@pytest.mark.parametrize(
    ("name", "kind", "container", "codec", "fps"),
    [
        ("h264.mp4", MediaKind.MP4, "MPEG-4", "AVC", 30),
        ("h265.mp4", MediaKind.MP4, "MPEG-4", "HEVC", 25),
        ("vp9.webm", MediaKind.WEBM, "WebM", "VP9", 24),
        ("vp8.webm", MediaKind.WEBM, "WebM", "VP8", 60),
        ("h264.mov", MediaKind.MOV, "MPEG-4", "AVC", 30),  # libmediainfo: profile QuickTime
    ],
)
def test_the_codecs_tiktok_takes_are_measured_and_accepted(
    media: Callable[[str], bytes], name: str, kind: MediaKind, container: str, codec: str, fps: int
) -> None:
    facts = probe(BytesReader(media(name)))
    assert (facts.kind, facts.container, facts.video_codec) == (kind, container, codec)
    assert facts.frame_rate == pytest.approx(fps)
    assert (facts.width, facts.height) == (640, 360)
    assert facts.duration_seconds == pytest.approx(1.0, abs=0.1)
    assert facts.bitrate and facts.bitrate > 0
    assert findings(media(name)) == []


@pytest.mark.parametrize(("name", "codec"), [("mpeg4.mov", "MPEG-4 Visual"), ("av1.mp4", "AV1")])
def test_other_codecs_are_refused(media: Callable[[str], bytes], name: str, codec: str) -> None:
    assert probe(BytesReader(media(name))).video_codec == codec
    assert findings(media(name)) == [("TT_VIDEO_CODEC_UNSUPPORTED", "video_codec")]


@pytest.mark.parametrize("name", ["h264-20fps.mp4", "h264-72fps.mp4"])
def test_frame_rates_outside_23_to_60_are_refused(media: Callable[[str], bytes], name: str) -> None:
    assert findings(media(name)) == [("TT_FRAME_RATE_OUT_OF_RANGE", "frame_rate")]


def test_a_side_under_360_px_is_refused(media: Callable[[str], bytes]) -> None:
    assert findings(media("h264-320x240.mp4")) == [("TT_RESOLUTION_OUT_OF_RANGE", "width")]


def test_width_and_height_are_as_shown_after_rotation(media: Callable[[str], bytes]) -> None:
    facts = probe(BytesReader(media("rotated.mp4")))
    assert facts.rotation in (90, 270)
    assert (facts.width, facts.height) == (360, 640)


@pytest.mark.parametrize(
    ("name", "size", "refused"),
    [
        ("1080p.jpg", (1920, 1080), False),
        ("portrait.jpg", (1080, 1920), False),
        ("too-big.jpg", (2048, 1152), True),
    ],
)
def test_photos_up_to_1080p_either_way_up(
    media: Callable[[str], bytes], name: str, size: tuple[int, int], refused: bool
) -> None:
    facts = probe(BytesReader(media(name)))
    assert (facts.kind, facts.width, facts.height) == (MediaKind.JPEG, *size)
    expected = [("TT_RESOLUTION_OUT_OF_RANGE", "width")] if refused else []
    assert findings(media(name), is_video=False) == expected


def test_webp_photos_are_read(media: Callable[[str], bytes]) -> None:
    facts = probe(BytesReader(media("square.webp")))
    assert (facts.kind, facts.container) == (MediaKind.WEBP, "WebP")


def test_only_the_bytes_libmediainfo_asks_for_are_read(
    media: Callable[[str], bytes], s3_bucket: S3Bucket
) -> None:
    data = media("h264-long.mp4")  # moov after a 1 MB+ mdat (ffmpeg's default layout)
    s3_bucket.client.put_object(Bucket=s3_bucket.name, Key="staged/p/a/0.mp4", Body=data)
    store = MediaStore(s3_bucket.client, s3_bucket.name)
    file = RangeFile(store.reader("staged/p/a/0.mp4"))
    from pymediainfo import MediaInfo

    MediaInfo.parse(file, parse_speed=0)
    assert len(data) > 1_000_000
    assert file.bytes_read < len(data) // 4, (file.bytes_read, len(data))
    facts = probe(store.reader("staged/p/a/0.mp4"))
    assert (facts.video_codec, facts.duration_seconds) == ("AVC", pytest.approx(3.0, abs=0.1))


async def test_staging_refuses_a_20_fps_video_and_keeps_nothing(
    dev_env: WorkflowEnvironment,
    task_queue: str,
    worker: None,
    media_host: MediaHost,
    local_bucket: LocalBucket,
) -> None:
    url = media_host.add(f"fps/{uuid.uuid4().hex}.mp4", sample_video(fps=20), "video/mp4")
    target = target_of(video_request(f"fps-{uuid.uuid4().hex[:8]}", url))
    error = await failure_of(await start(dev_env.client, task_queue, target))
    assert error.type == "TT_FRAME_RATE_OUT_OF_RANGE" and "20 fps" in error.message
    listing = local_bucket.client().list_objects_v2(
        Bucket=local_bucket.bucket, Prefix=f"staged/{target.post_id}/"
    )
    assert listing.get("KeyCount", 0) == 0


def test_no_hand_written_container_parser_is_left() -> None:
    source = (Path(__file__).parents[1] / "activities" / "media_probe.py").read_text()
    for marker in ("mvhd", "tkhd", "SeekHead", "SOF", "VP8L"):
        assert marker not in source
