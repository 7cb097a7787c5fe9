"""One error hierarchy: every public exception class in Vigil descends from ``VigilError``
(``vigil.core.errors``), so each door maps all of them in one place and none escapes as a
traceback. A private class (``_Name``) used for control flow inside one module is exempt."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import vigil
from vigil.core.errors import BusError, EventDecodeError, VigilError

MIGRATIONS = "vigil.store.migrations"
"""Alembic's scripts run only inside Alembic (they define no exceptions)."""


def _exception_classes() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(vigil.__path__, "vigil."):
        if info.name.startswith(MIGRATIONS):
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == info.name:
                found[f"{info.name}.{name}"] = obj
    return found


def test_every_public_exception_is_a_vigil_error() -> None:
    classes = _exception_classes()
    assert len(classes) >= 25  # the walk reached the packages (core alone has 20)
    outside = sorted(name for name, cls in classes.items() if not name.rsplit(".", 1)[1].startswith("_")
                     and not issubclass(cls, VigilError))  # fmt: skip
    assert outside == [], f"exception classes outside the VigilError tree: {outside}"


def test_bus_http_and_decode_errors_are_in_the_tree() -> None:
    from vigil.bus.alerts import UnreadableAlertError
    from vigil.bus.base import BusAuthError, BusUnavailableError
    from vigil.http.errors import HttpError

    assert issubclass(BusAuthError, BusError) and issubclass(BusUnavailableError, BusError)
    assert issubclass(UnreadableAlertError, EventDecodeError) and issubclass(UnreadableAlertError, ValueError)
    assert issubclass(HttpError, VigilError)
