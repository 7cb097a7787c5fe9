"""Edge buffering: a bounded queue of messages that could not reach NATS yet.

When NATS is unreachable a worker keeps analysing and appends its events here; once it
reconnects they are replayed in order (oldest first) before anything newer goes out. The
spool is bounded: beyond its size a message is dropped and counted, never waited for, so
capture is never blocked by a dead network.

``FileSpool`` survives the worker process: a worker killed during a partition replays, when it
starts again, what it had spooled (the event ids make the replay idempotent). Each record is
written with one ``write`` call, so a ``kill -9`` loses nothing already appended; a power cut
may lose what the OS had not yet written (the file is not fsynced per record: that would
cap a worker at a few hundred events/s on ordinary disks). A torn record at the tail is
detected by its CRC and cut off on open.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import zlib
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

log = logging.getLogger(__name__)

_HEADER = struct.Struct("<II")  # payload length, CRC-32 of the payload
_META_LEN = struct.Struct("<I")


@dataclass(frozen=True, slots=True)
class SpooledMessage:
    """One message as it would have been published."""

    subject: str
    data: bytes
    headers: dict[str, str]

    def encode(self) -> bytes:
        meta = json.dumps({"s": self.subject, "h": self.headers}, separators=(",", ":")).encode()
        return _META_LEN.pack(len(meta)) + meta + self.data

    @classmethod
    def decode(cls, payload: bytes) -> SpooledMessage:
        (n,) = _META_LEN.unpack_from(payload)
        meta = json.loads(payload[_META_LEN.size : _META_LEN.size + n])
        return cls(subject=meta["s"], headers=dict(meta["h"]), data=payload[_META_LEN.size + n :])


class Spool(Protocol):
    """A bounded FIFO of messages; the bus uses it from one thread only."""

    dropped: int
    """Messages refused because the spool was full."""

    def append(self, msg: SpooledMessage) -> bool:
        """Queue ``msg``; False (and ``dropped`` + 1) when the spool is full."""
        ...

    def peek(self, n: int) -> list[SpooledMessage]:
        """Up to ``n`` of the oldest messages, without removing them."""
        ...

    def commit(self, n: int) -> None:
        """Remove the ``n`` oldest messages (they were published and acknowledged)."""
        ...

    def __len__(self) -> int: ...

    def close(self) -> None: ...


class MemorySpool:
    """In-memory spool (a process without a data directory, and tests)."""

    def __init__(self, max_messages: int = 100_000) -> None:
        if max_messages < 1:
            raise ValueError(f"max_messages must be >= 1, got {max_messages}")
        self._max = max_messages
        self._items: deque[SpooledMessage] = deque()
        self.dropped = 0

    def append(self, msg: SpooledMessage) -> bool:
        if len(self._items) >= self._max:
            self.dropped += 1
            return False
        self._items.append(msg)
        return True

    def peek(self, n: int) -> list[SpooledMessage]:
        return [self._items[i] for i in range(min(n, len(self._items)))]

    def commit(self, n: int) -> None:
        for _ in range(min(n, len(self._items))):
            self._items.popleft()

    def __len__(self) -> int:
        return len(self._items)

    def close(self) -> None:
        """Nothing to release."""


@dataclass(slots=True)
class _Segment:
    seq: int
    path: Path
    offsets: list[int]
    """Start offset of each record still to be read (the first is the read position)."""
    end: int
    """Byte offset just past the last record."""


class FileSpool:
    """Spool in segment files under ``directory``, bounded by ``max_bytes`` on disk.

    Args:
        directory: created if missing; one spool per directory (one worker).
        max_bytes: total size of the segment files; a message that would exceed it is dropped.
        segment_bytes: a new segment file starts past this size; consumed segments are deleted.
    """

    def __init__(self, directory: Path, *, max_bytes: int = 256 * 1024 * 1024, segment_bytes: int = 8 * 1024 * 1024):
        if max_bytes < 1024:
            raise ValueError(f"max_bytes must be >= 1024, got {max_bytes}")
        self._dir = directory
        self._max_bytes = max_bytes
        self._segment_bytes = segment_bytes
        self.dropped = 0
        directory.mkdir(parents=True, exist_ok=True)
        self._segments: deque[_Segment] = deque()
        self._count = 0
        self._bytes = 0
        cursor = self._read_cursor()
        paths = sorted(directory.glob("*.seg"))
        for i, path in enumerate(paths):
            seq = int(path.stem)
            if seq < cursor[0]:
                path.unlink(missing_ok=True)  # consumed before the cursor was last written
                continue
            seg = self._scan(seq, path, start=cursor[1] if seq == cursor[0] else 0)
            if not seg.offsets and i < len(paths) - 1:
                path.unlink(missing_ok=True)
                continue
            self._segments.append(seg)
            self._count += len(seg.offsets)
            self._bytes += seg.end
        if not self._segments:
            self._segments.append(self._new_segment((cursor[0] or 0) + 1))
        self._writer: BinaryIO = open(self._segments[-1].path, "ab")  # noqa: SIM115 - kept open while spooling
        if self._count:
            log.warning("spool %s: %d messages left by a previous run will be replayed", directory, self._count)

    # -- Spool ------------------------------------------------------------------------

    def append(self, msg: SpooledMessage) -> bool:
        payload = msg.encode()
        record = _HEADER.pack(len(payload), zlib.crc32(payload)) + payload
        if self._bytes + len(record) > self._max_bytes:
            self.dropped += 1
            return False
        seg = self._segments[-1]
        if seg.end >= self._segment_bytes:
            self._writer.close()
            seg = self._new_segment(seg.seq + 1)
            self._segments.append(seg)
            self._writer = open(seg.path, "ab")  # noqa: SIM115
        self._writer.write(record)
        self._writer.flush()  # one write(2) per record: a kill -9 loses nothing appended
        seg.offsets.append(seg.end)
        seg.end += len(record)
        self._count += 1
        self._bytes += len(record)
        return True

    def peek(self, n: int) -> list[SpooledMessage]:
        out: list[SpooledMessage] = []
        for seg in self._segments:
            if len(out) >= n:
                break
            if not seg.offsets:
                continue
            take = seg.offsets[: n - len(out)]
            with open(seg.path, "rb") as fh:
                fh.seek(take[0])
                for _ in take:
                    length, _crc = _HEADER.unpack(fh.read(_HEADER.size))
                    out.append(SpooledMessage.decode(fh.read(length)))
        return out

    def commit(self, n: int) -> None:
        left = min(n, self._count)
        while left and self._segments:
            seg = self._segments[0]
            k = min(left, len(seg.offsets))
            del seg.offsets[:k]
            self._count -= k
            left -= k
            if not seg.offsets and len(self._segments) > 1:
                self._segments.popleft()
                self._bytes -= seg.end
                seg.path.unlink(missing_ok=True)
            elif not seg.offsets and seg.end >= self._segment_bytes:
                # The only segment is full and consumed: start afresh rather than grow it.
                self._writer.close()
                seg.path.unlink(missing_ok=True)
                self._bytes -= seg.end
                self._segments[0] = self._new_segment(seg.seq + 1)
                self._writer = open(self._segments[0].path, "ab")  # noqa: SIM115
        head = self._segments[0]
        self._write_cursor(head.seq, head.offsets[0] if head.offsets else head.end)

    def __len__(self) -> int:
        return self._count

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def close(self) -> None:
        self._writer.close()

    # -- internals --------------------------------------------------------------------

    def _new_segment(self, seq: int) -> _Segment:
        path = self._dir / f"{seq:012d}.seg"
        path.touch()
        return _Segment(seq, path, [], 0)

    def _scan(self, seq: int, path: Path, *, start: int) -> _Segment:
        data = path.read_bytes()
        offsets: list[int] = []
        pos = 0
        while pos + _HEADER.size <= len(data):
            length, crc = _HEADER.unpack_from(data, pos)
            payload = data[pos + _HEADER.size : pos + _HEADER.size + length]
            if len(payload) < length or zlib.crc32(payload) != crc:
                break
            if pos >= start:
                offsets.append(pos)
            pos += _HEADER.size + length
        if pos < len(data):
            log.warning("spool %s: cut a torn record at byte %d (written when the process died)", path, pos)
            with open(path, "r+b") as fh:
                fh.truncate(pos)
        return _Segment(seq, path, offsets, pos)

    def _cursor_path(self) -> Path:
        return self._dir / "cursor"

    def _read_cursor(self) -> tuple[int, int]:
        try:
            seq, off = self._cursor_path().read_text().split()
            return int(seq), int(off)
        except (OSError, ValueError):
            return 0, 0

    def _write_cursor(self, seq: int, offset: int) -> None:
        tmp = self._cursor_path().with_suffix(".tmp")
        tmp.write_text(f"{seq} {offset}\n")
        os.replace(tmp, self._cursor_path())
