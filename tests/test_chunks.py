"""TikTok's chunk rules, proven over every boundary with hypothesis."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from activities.chunks import (
    MAX_CHUNK_COUNT,
    MAX_CHUNK_SIZE,
    MAX_LAST_CHUNK_SIZE,
    MAX_VIDEO_SIZE,
    MB,
    MIN_CHUNK_SIZE,
    ChunkPlan,
    ChunkPlanError,
    plan_chunks,
    validate_plan,
)

GB = 1_000_000_000
# Sizes that sit on or next to a rule's edge: 5 MB, the preferred size, 64 MB, 128 MB, the size
# at which 1000 chunks of the preferred (or largest) size run out, and the 4 GiB maximum.
EDGES = [
    1,
    MIN_CHUNK_SIZE,
    10 * MB,
    MAX_CHUNK_SIZE,
    MAX_LAST_CHUNK_SIZE,
    MAX_CHUNK_SIZE * 2,
    4 * GB,
    MAX_VIDEO_SIZE,
]
edge_sizes = st.sampled_from(EDGES).flatmap(
    lambda edge: st.integers(min_value=max(1, edge - 2), max_value=min(MAX_VIDEO_SIZE, edge + 2))
)
# Under 4 GiB even 5 MB chunks number at most 858, so the 1000-chunk rule only bites when the
# arithmetic is asked about larger files: these edges exercise it (max_video_size raised).
LIMIT_FREE = 1001 * MAX_CHUNK_SIZE - 1
COUNT_EDGES = [1000 * 5 * MB, 1001 * 5 * MB, 1000 * 10 * MB, 1001 * 10 * MB, LIMIT_FREE]
count_edge_sizes = st.sampled_from(COUNT_EDGES).flatmap(
    lambda edge: st.integers(min_value=edge - 2, max_value=min(LIMIT_FREE, edge + 2))
)
any_size = st.integers(min_value=1, max_value=MAX_VIDEO_SIZE)
sizes = st.one_of(edge_sizes, any_size)
preferred = st.one_of(
    st.sampled_from([MIN_CHUNK_SIZE, 10 * MB, MAX_CHUNK_SIZE]),
    st.integers(min_value=MIN_CHUNK_SIZE, max_value=MAX_CHUNK_SIZE),
)


def assert_follows_tiktok_rules(plan: ChunkPlan) -> None:
    """Every byte covered once, in order, every chunk within TikTok's limits."""
    assert 1 <= plan.total_chunk_count <= MAX_CHUNK_COUNT
    assert plan.total_chunk_count == plan.video_size // plan.chunk_size
    expected_first = 0
    ranges = list(plan.ranges())
    assert len(ranges) == plan.total_chunk_count
    for index, (first, last) in enumerate(ranges):
        assert first == expected_first  # contiguous and in order: no gap, no overlap
        length = last - first + 1
        assert length == plan.chunk_length(index)
        assert plan.content_range(index) == f"bytes {first}-{last}/{plan.video_size}"
        if plan.video_size < MIN_CHUNK_SIZE:
            assert length == plan.video_size
        elif index < plan.total_chunk_count - 1:
            assert length == plan.chunk_size
            assert MIN_CHUNK_SIZE <= length <= MAX_CHUNK_SIZE
        else:
            assert MIN_CHUNK_SIZE <= length <= MAX_LAST_CHUNK_SIZE
            assert length == plan.chunk_size + plan.video_size % plan.chunk_size
        expected_first = last + 1
    assert expected_first == plan.video_size


@given(size=sizes, chunk=preferred)
@example(size=MIN_CHUNK_SIZE - 1, chunk=10 * MB)
@example(size=MIN_CHUNK_SIZE, chunk=10 * MB)
@example(size=MIN_CHUNK_SIZE + 1, chunk=10 * MB)
@example(size=MAX_CHUNK_SIZE * 2 - 1, chunk=MAX_CHUNK_SIZE)
@example(size=MAX_VIDEO_SIZE, chunk=MIN_CHUNK_SIZE)
def test_every_plan_follows_tiktok_rules(size: int, chunk: int) -> None:
    plan = plan_chunks(size, chunk)
    validate_plan(plan.video_size, plan.chunk_size, plan.total_chunk_count)
    assert_follows_tiktok_rules(plan)
    if size >= MIN_CHUNK_SIZE:
        # The preferred size is kept unless the file is smaller or 1000 chunks do not suffice.
        assert plan.chunk_size >= min(chunk, size)
        if plan.chunk_size > min(chunk, size):
            assert size // (plan.chunk_size - 1) > MAX_CHUNK_COUNT  # raised no further than needed


@given(
    size=st.one_of(count_edge_sizes, st.integers(min_value=MAX_VIDEO_SIZE, max_value=LIMIT_FREE)),
    chunk=preferred,
)
@example(size=1001 * 5 * MB, chunk=MIN_CHUNK_SIZE)
@example(size=LIMIT_FREE, chunk=MIN_CHUNK_SIZE)
def test_chunk_size_grows_only_as_far_as_1000_chunks_need(size: int, chunk: int) -> None:
    plan = plan_chunks(size, chunk, max_video_size=LIMIT_FREE)
    assert_follows_tiktok_rules(plan)
    if plan.chunk_size > chunk:
        assert size // (plan.chunk_size - 1) > MAX_CHUNK_COUNT
        assert plan.total_chunk_count == MAX_CHUNK_COUNT


@given(size=st.integers(min_value=1, max_value=MIN_CHUNK_SIZE - 1))
def test_a_file_under_5_mb_goes_whole(size: int) -> None:
    assert plan_chunks(size) == ChunkPlan(size, size, 1)


def test_known_plans() -> None:
    assert plan_chunks(50_000_123) == ChunkPlan(50_000_123, 10 * MB, 5)
    assert plan_chunks(50_000_123).chunk_range(4) == (40 * MB, 50_000_122)
    assert plan_chunks(7 * MB) == ChunkPlan(7 * MB, 7 * MB, 1)
    # 10 GB at 10 MB would be 1000 chunks exactly: allowed.
    assert plan_chunks(10 * GB, max_video_size=10 * GB).total_chunk_count == 1000
    # One byte more than 1001 x 10 MB forces a larger chunk.
    big = plan_chunks(1001 * 10 * MB, max_video_size=11 * GB)
    assert (big.chunk_size, big.total_chunk_count) == (10 * MB + 1, 1000)
    four_gib = plan_chunks(MAX_VIDEO_SIZE, MIN_CHUNK_SIZE)
    assert four_gib.total_chunk_count == 858  # 5 MB chunks fit 1000 times into 4 GiB


def test_too_large_and_empty_have_codes() -> None:
    with pytest.raises(ChunkPlanError) as err:
        plan_chunks(MAX_VIDEO_SIZE + 1)
    assert err.value.code == "TT_MEDIA_TOO_LARGE"
    with pytest.raises(ChunkPlanError) as err:
        plan_chunks(1001 * MAX_CHUNK_SIZE, max_video_size=100 * GB)  # no plan exists at all
    assert err.value.code == "TT_MEDIA_TOO_LARGE"
    assert plan_chunks(LIMIT_FREE, max_video_size=100 * GB).total_chunk_count == 1000
    with pytest.raises(ChunkPlanError) as err:
        plan_chunks(0)
    assert err.value.code == "TT_MEDIA_EMPTY"
    for bad in (MIN_CHUNK_SIZE - 1, MAX_CHUNK_SIZE + 1):
        with pytest.raises(ChunkPlanError) as err:
            plan_chunks(100 * MB, bad)
        assert err.value.code == "TT_CHUNK_PLAN_INVALID"


@pytest.mark.parametrize(
    ("video_size", "chunk_size", "count"),
    [
        (4 * MB, 2 * MB, 2),  # under 5 MB must go whole
        (20 * MB, 4 * MB, 5),  # chunk under 5 MB
        (200 * MB, 65 * MB, 3),  # chunk over 64 MB
        (20 * MB, 30 * MB, 0),  # chunk larger than the file
        (50 * MB, 10 * MB, 4),  # count is not floor(size / chunk)
        (6 * GB, 5 * MB, 1200),  # over 1000 chunks
        (0, 0, 1),
    ],
)
def test_validate_plan_rejects_what_tiktok_rejects(
    video_size: int, chunk_size: int, count: int
) -> None:
    with pytest.raises(ChunkPlanError) as err:
        ChunkPlan(video_size, chunk_size, count)
    assert err.value.code == "TT_CHUNK_PLAN_INVALID"


@given(size=sizes, chunk=preferred, data=st.data())
def test_offsets_map_back_to_chunks(size: int, chunk: int, data: st.DataObject) -> None:
    plan = plan_chunks(size, chunk)
    index = data.draw(st.integers(min_value=0, max_value=plan.total_chunk_count - 1))
    first, last = plan.chunk_range(index)
    assert plan.chunk_index_for_offset(first) == index
    assert plan.chunk_index_for_offset(last + 1) == index + 1  # video_size → count (complete)
    assert plan.chunk_index_for_offset(size) == plan.total_chunk_count
    if last > first:
        with pytest.raises(ChunkPlanError) as err:
            plan.chunk_index_for_offset(first + 1)
        assert err.value.code == "TT_UPLOAD_OFFSET_INVALID"
    for outside in (-1, size + 1):
        with pytest.raises(ChunkPlanError):
            plan.chunk_index_for_offset(outside)


def test_chunk_range_rejects_bad_index() -> None:
    plan = plan_chunks(30 * MB)
    with pytest.raises(IndexError):
        plan.chunk_range(3)
    with pytest.raises(IndexError):
        plan.chunk_range(-1)
