"""bus/headers.py parses delivered headers exactly as nats-py 2.16 does (only cheaper)."""

from __future__ import annotations

import asyncio
import random

from nats.aio.client import Client

from vigil.bus.headers import NAMES_KEPT, header_parser, install

ODD = [
    b"Nats-Msg-Id: 01a24a5a-f241-72ef-9f51-8447846b4373\r\nVigil-Lease-Epoch: 12\r\n\r\n",
    "Vigil-Worker: caf\u00e9-\u5de5\u4f5c-1\r\n".encode(),  # non-ASCII value (UTF-8)
    b"Vigil-Worker: \xff\xfebad\r\n",  # malformed UTF-8 value: U+FFFD, as nats-py
    "Caf\u00e9: 1\r\nok: 2\r\n".encode(),  # non-ASCII name: skipped
    b"Bad Name: 1\r\nTab\tName: 2\r\nSep\x1cName: 3\r\n\x1cLead: 4\r\n",  # whitespace inside a name
    b"  Padded  :  value  \r\n",
    b"NoSpace:v\r\nno colon line\r\n:empty name\r\nA: x: y: z\r\nEmpty:\r\n",
    b"Dup: 1\r\nDup: 2\r\n",
    b"\r\n\r\n\r\n",
    b"",
]


def test_same_as_nats_py_on_odd_headers() -> None:
    parse = header_parser()
    for raw in ODD * 2:  # twice: the second time the names come from the parser's memory
        assert parse(raw) == Client._parse_header_lines(raw), raw


def test_same_as_nats_py_on_random_lines() -> None:
    rng = random.Random(19)
    alphabet = [b"a", b"B", b"-", b":", b" ", b"\t", b"\x1c", b"\r\n", b"\xc3\xa9", b"\xff", b"0"]
    parse = header_parser()
    for _ in range(3000):
        raw = b"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
        assert parse(raw) == Client._parse_header_lines(raw), raw


def test_memory_of_names_is_bounded() -> None:
    parse = header_parser()
    for i in range(NAMES_KEPT * 2):
        raw = f"Name-{i}: {i}\r\n".encode()
        assert parse(raw) == {f"Name-{i}": str(i)}
    assert parse(b"Name-3: x\r\nName-9999: y\r\n") == {"Name-3": "x", "Name-9999": "y"}


def test_installed_client_gives_nats_py_results() -> None:
    plain, fast = Client(), Client()
    install(fast)
    raw = b"NATS/1.0\r\nVigil-Lease-Epoch: 7\r\nVigil-Worker: w\xc3\xa9\r\n\r\n"
    status = b"NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 1\r\nNats-Last-Stream: 2\r\n\r\n"

    async def both(data: bytes) -> tuple[object, object]:
        return await plain._process_headers(data), await fast._process_headers(data)

    for data in (raw, status):
        got_plain, got_fast = asyncio.run(both(data))
        assert got_fast == got_plain
    assert asyncio.run(both(raw))[1] == {"Vigil-Lease-Epoch": "7", "Vigil-Worker": "w\u00e9"}
