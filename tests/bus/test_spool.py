"""FileSpool and MemorySpool: order, bounds, survival across a restart and a torn tail."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.bus.spool import FileSpool, MemorySpool, SpooledMessage


def _msg(i: int) -> SpooledMessage:
    return SpooledMessage(f"vigil.track.cam{i % 3}", f'{{"n":{i}}}'.encode(), {"Nats-Msg-Id": f"id-{i}"})


def test_file_spool_keeps_order_across_segments_and_restarts(tmp_path: Path) -> None:
    spool = FileSpool(tmp_path, max_bytes=1 << 20, segment_bytes=2048)
    for i in range(300):
        assert spool.append(_msg(i))
    assert len(spool) == 300
    assert [m.headers["Nats-Msg-Id"] for m in spool.peek(5)] == [f"id-{i}" for i in range(5)]
    spool.commit(120)
    spool.close()
    assert len(list(tmp_path.glob("*.seg"))) < 300 * 60 // 2048  # consumed segments were deleted

    again = FileSpool(tmp_path, max_bytes=1 << 20, segment_bytes=2048)
    assert len(again) == 180
    got = again.peek(1000)
    assert [m.data for m in got] == [_msg(i).data for i in range(120, 300)]
    assert got[0] == _msg(120)
    again.commit(180)
    assert len(again) == 0
    assert again.peek(10) == []
    again.close()
    last = FileSpool(tmp_path)
    assert len(last) == 0
    last.close()


def test_file_spool_is_bounded_and_counts_what_it_drops(tmp_path: Path) -> None:
    spool = FileSpool(tmp_path, max_bytes=4096, segment_bytes=1024)
    accepted = sum(spool.append(_msg(i)) for i in range(500))
    assert 0 < accepted < 500
    assert spool.dropped == 500 - accepted
    assert spool.size_bytes <= 4096
    spool.commit(accepted)
    assert spool.append(_msg(1))  # room again once replayed
    spool.close()


def test_a_torn_record_at_the_tail_is_cut_and_the_rest_replays(tmp_path: Path) -> None:
    spool = FileSpool(tmp_path)
    for i in range(10):
        spool.append(_msg(i))
    spool.close()
    seg = sorted(tmp_path.glob("*.seg"))[-1]
    with open(seg, "ab") as fh:
        fh.write(b"\x40\x00\x00\x00garbage")  # a record header whose payload never made it
    again = FileSpool(tmp_path)
    assert len(again) == 10
    assert again.peek(10)[-1] == _msg(9)
    again.append(_msg(10))
    again.close()
    last = FileSpool(tmp_path)
    assert [m.headers["Nats-Msg-Id"] for m in last.peek(20)][-2:] == ["id-9", "id-10"]
    last.close()


def test_memory_spool_bounds() -> None:
    spool = MemorySpool(max_messages=3)
    assert all(spool.append(_msg(i)) for i in range(3))
    assert not spool.append(_msg(3))
    assert spool.dropped == 1
    spool.commit(2)
    assert spool.peek(5) == [_msg(2)]
    with pytest.raises(ValueError, match="max_messages"):
        MemorySpool(0)
