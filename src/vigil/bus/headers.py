"""A cheaper parse of the headers of every delivered NATS message, with nats-py's results.

Every event on the bus carries five headers (``Nats-Msg-Id`` and the lease's four), and
nats-py parses them for each delivered message in Python (``Client._parse_header_lines``):
per line it decodes the name and tests each of its characters for whitespace with a generator,
4–6 µs per message here, as much as validating the event itself. The names are always the same
few, so this parser remembers what each raw name decoded to (or that it is skipped) and does
the per-line work only for the value. :func:`install` puts it on one client; the rules are
nats-py 2.16's exactly (``tests/bus/test_headers.py`` compares the two on odd input), so
nothing downstream can tell which parsed a message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

NAMES_KEPT = 256
"""Distinct raw header names remembered per client (a peer inventing names cannot grow it)."""

_UNSET = object()


def _name(raw: bytes) -> str | None:
    """nats-py's rule: an ASCII name without whitespace inside, else the line is skipped."""
    try:
        key = raw.strip().decode("ascii")
    except UnicodeDecodeError:
        return None
    # str.split() splits on exactly what str.isspace() calls whitespace (\x1c–\x1f included).
    return key if not key or key.split() == [key] else None


def header_parser() -> Callable[[bytes], dict[str, str]]:
    """A parser of ``Name: Value\\r\\n`` lines with its own memory of names (one per client)."""
    names: dict[bytes, str | None] = {}

    def parse(raw: bytes) -> dict[str, str]:
        out: dict[str, str] = {}
        for line in raw.split(b"\r\n"):
            name, sep, value = line.partition(b":")
            if not sep:  # an empty line, or no colon: nats-py skips both
                continue
            key: Any = names.get(name, _UNSET)
            if key is _UNSET:
                key = _name(name)
                if len(names) < NAMES_KEPT:
                    names[name] = key
            if key is not None:
                out[key] = value.strip().decode("utf-8", "replace")
        return out

    return parse


def install(client: Any) -> None:
    """Make ``client`` (a nats-py ``Client``) parse delivered headers with :func:`header_parser`.

    nats-py calls ``self._parse_header_lines`` (a static method) unless the optional
    ``fast_mail_parser`` is installed; an attribute on the instance takes its place for this
    client only. A nats-py without that method is left as it is.
    """
    if callable(getattr(type(client), "_parse_header_lines", None)):
        client._parse_header_lines = header_parser()
