"""Self-describing routes: every endpoint declares its action and scope where it is defined.

``endpoint(router, "GET", "/events", action="events.read", scope="camera", example=...)`` adds
the role check as a route dependency and publishes ``x-vigil-access`` (action, scope and an
example request) in the OpenAPI schema. The access-matrix test walks the published schema and
exercises every operation, so a new router joins the matrix just by declaring its routes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, TypeVar

from fastapi import APIRouter, Depends

from vigil.api.deps import require_action
from vigil.api.errors import ERROR_RESPONSES
from vigil.governance.roles import PERMISSIONS

Scope = Literal["public", "self", "global", "camera"]
"""public: no sign-in; self: any signed-in user; global: role only; camera: role and camera scope."""

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Example:
    """A request that exercises the route, with placeholders the matrix test fills in:
    ``{camera}``, ``{event}``, ``{track}``, ``{candidate}``, ``{snapshot}``, ``{case}``, ``{user}``."""

    path: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    json: dict[str, Any] | None = None
    files: dict[str, tuple[str, str, str]] | None = None
    """Multipart fields: name -> (file name, text content, content type)."""
    ok: tuple[int, ...] = (200,)
    """Statuses an allowed request may get (a second decision on a candidate is 409, say)."""


@dataclass(frozen=True, slots=True)
class Access:
    action: str | None
    scope: Scope
    example: Example

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "scope": self.scope, "example": asdict(self.example)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Access:
        ex = dict(data.get("example") or {})
        files = ex.get("files")
        example = Example(
            path=dict(ex.get("path") or {}),
            query=dict(ex.get("query") or {}),
            json=ex.get("json"),
            files=None if files is None else {k: (str(v[0]), str(v[1]), str(v[2])) for k, v in files.items()},
            ok=tuple(ex.get("ok") or (200,)),
        )
        return cls(data.get("action"), data["scope"], example)


def endpoint(
    router: APIRouter,
    method: str,
    path: str,
    *,
    action: str | None,
    scope: Scope,
    example: Example | None = None,
    **kwargs: Any,
) -> Callable[[F], F]:
    """Register a handler with its access rule (see module docstring)."""
    if action is not None and action not in PERMISSIONS:
        raise ValueError(f"unknown action {action!r}; add it to vigil.governance.roles.PERMISSIONS")
    if (action is None) != (scope in ("public", "self")):
        raise ValueError(f"{method} {path}: scope {scope!r} needs {'no' if action is None else 'an'} action")
    access = Access(action, scope, example or Example())

    def decorate(fn: F) -> F:
        deps = [Depends(require_action(action))] if action is not None else []
        responses = {**ERROR_RESPONSES, **kwargs.pop("responses", {})}
        router.api_route(
            path,
            methods=[method],
            dependencies=deps,
            responses=responses,
            openapi_extra={"x-vigil-access": access.to_json()},
            **kwargs,
        )(fn)
        return fn

    return decorate
