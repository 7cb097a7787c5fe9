"""Bad input at the command line: one line on stderr, never a traceback or mangled text.

Two classes of bug live here, once for every command:

- Arguments that are not valid UTF-8 (a file name in Latin-1, say). Python hands them over with
  "surrogate escapes" that nothing downstream can encode: not the config models, the database,
  JSON or the terminal. They are refused before any command runs, naming the argument.
- Error text printed through Rich markup: ``[a-z0-9]`` in a message (a pattern, a camera id)
  is read as a style tag and silently dropped. Messages are escaped before printing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from pydantic import ValidationError
from rich.markup import escape

from vigil.core.errors import InputError

CHECKED_ENVIRONMENT = ("VIGIL_DATA_DIR", "VIGIL_MODELS_DIR")
"""Environment variables that name paths the CLI stores or prints."""


def shown(text: str) -> str:
    """``text`` printable, undecodable bytes as ``\\xNN`` (what ``ls -b`` shows)."""
    return os.fsencode(text).decode("utf-8", "backslashreplace")


def check_text_arguments(argv: Sequence[str], environ: Mapping[str, str]) -> None:
    """Refuse an argument or path variable that is not valid UTF-8.

    Raises:
        InputError: naming the first such argument or variable and what to do about it.
    """
    named = [(f"argument '{shown(a)}'", a) for a in argv]
    named += [(f"{name}='{shown(environ[name])}'", environ[name]) for name in CHECKED_ENVIRONMENT if name in environ]
    for label, value in named:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InputError(
                f"{label} is not valid UTF-8; Vigil keeps names and paths as text: rename the file "
                "(e.g. convmv -f latin1 -t utf8) or pass a link to it with a UTF-8 name"
            ) from None


def error_line(exc: Exception) -> str:
    """The one line (Rich markup) that reports ``exc``, its own text escaped."""
    if isinstance(exc, ValidationError) and exc.errors():
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        text = f"{where}: {first['msg']}" if where else first["msg"]
    else:
        text = (str(exc).splitlines() or [type(exc).__name__])[0]
    return f"[bold red]error:[/] {escape(text)}"
