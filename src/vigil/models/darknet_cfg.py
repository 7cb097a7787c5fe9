"""Read Darknet's two files: the ``.cfg`` network description and the ``.weights`` blob.

Only what the converter in :mod:`vigil.models.darknet` needs is parsed; every value keeps the
line it came from so errors can point at it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from vigil.core.errors import ModelError


@dataclass(frozen=True, slots=True)
class CfgSection:
    """One ``[section]`` of a Darknet ``.cfg`` file.

    Attributes:
        kind: section name without brackets, lower case (``convolutional``, ``route``, ...).
        line: 1-based line number of the ``[section]`` header.
        options: ``key=value`` pairs, both stripped.
        source: file name, used in error messages.
    """

    kind: str
    line: int
    options: dict[str, str] = field(default_factory=dict)
    source: str = "<cfg>"

    def where(self) -> str:
        return f"{self.source} line {self.line} [{self.kind}]"

    def get_str(self, key: str, default: str | None = None) -> str:
        value = self.options.get(key, default)
        if value is None:
            raise ModelError(f"{self.where()}: missing required option {key!r}")
        return value

    def get_int(self, key: str, default: int | None = None) -> int:
        raw = self.options.get(key)
        if raw is None:
            if default is None:
                raise ModelError(f"{self.where()}: missing required option {key!r}")
            return default
        try:
            return int(raw)
        except ValueError:
            raise ModelError(f"{self.where()}: option {key}={raw!r} is not an integer") from None

    def get_float(self, key: str, default: float) -> float:
        raw = self.options.get(key)
        if raw is None:
            return default
        try:
            return float(raw)
        except ValueError:
            raise ModelError(f"{self.where()}: option {key}={raw!r} is not a number") from None

    def get_ints(self, key: str, default: tuple[int, ...] | None = None) -> tuple[int, ...]:
        raw = self.options.get(key)
        if raw is None:
            if default is None:
                raise ModelError(f"{self.where()}: missing required option {key!r}")
            return default
        try:
            return tuple(int(part) for part in raw.split(",") if part.strip())
        except ValueError:
            raise ModelError(f"{self.where()}: option {key}={raw!r} is not a list of integers") from None


def parse_cfg_text(text: str, source: str = "<cfg>") -> list[CfgSection]:
    """Parse the text of a ``.cfg`` file into its sections, ``[net]`` first."""
    sections: list[CfgSection] = []
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.split("#", 1)[0].split(";", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                raise ModelError(f"{source} line {number}: malformed section header {line!r}")
            sections.append(CfgSection(kind=line[1:-1].strip().lower(), line=number, source=source))
            continue
        if "=" not in line:
            raise ModelError(f"{source} line {number}: expected key=value, got {line!r}")
        if not sections:
            raise ModelError(f"{source} line {number}: option {line!r} before the first [section]")
        key, value = line.split("=", 1)
        sections[-1].options[key.strip().lower()] = value.strip()
    if not sections or sections[0].kind not in ("net", "network"):
        raise ModelError(f"{source}: the first section must be [net]")
    return sections


def parse_cfg(path: Path) -> list[CfgSection]:
    """Parse a ``.cfg`` file; I/O errors become :class:`ModelError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"cannot read Darknet cfg {path}: {exc}") from exc
    return parse_cfg_text(text, source=path.name)


class WeightsReader:
    """Sequential reader of a Darknet ``.weights`` file.

    Layout: int32 ``major, minor, revision``; ``seen`` (int64 when ``major*10+minor >= 2``,
    else int32); then float32 parameters, layer after layer, in cfg order.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            blob = path.read_bytes()
        except OSError as exc:
            raise ModelError(f"cannot read Darknet weights {path}: {exc}") from exc
        if len(blob) < 16:
            raise ModelError(f"{path.name}: too short for a Darknet weights header ({len(blob)} bytes)")
        major, minor, revision = (int(v) for v in np.frombuffer(blob, dtype="<i4", count=3))
        self.version = (major, minor, revision)
        seen_bytes = 8 if (major * 10 + minor) >= 2 and major < 1000 and minor < 1000 else 4
        body = blob[12 + seen_bytes :]
        if len(body) % 4:
            raise ModelError(f"{path.name}: body of {len(body)} bytes is not a whole number of float32")
        self._values: NDArray[np.float32] = np.frombuffer(body, dtype="<f4")
        self._pos = 0

    @property
    def remaining(self) -> int:
        """Number of float32 values not yet read."""
        return int(self._values.size - self._pos)

    def read(self, count: int, what: str) -> NDArray[np.float32]:
        """Return the next ``count`` float32 values (a copy), or fail naming ``what``."""
        if count > self.remaining:
            raise ModelError(
                f"{self.path.name}: ran out of weights reading {what}: "
                f"need {count} values, {self.remaining} left (cfg and weights do not match)"
            )
        out = self._values[self._pos : self._pos + count].astype(np.float32)
        self._pos += count
        return out
