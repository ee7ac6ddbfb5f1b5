"""Systems by name: ``@register_system("name")`` and ``build_system(name, params, ctx)``.

Parameters are validated by the system's own pydantic model, so a bad config names the field and
what is allowed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import ValidationError

from semcom.systems.base import BuildContext, SplitSystem

_REGISTRY: dict[str, type[SplitSystem]] = {}

S = TypeVar("S", bound=type[SplitSystem])


class SystemConfigError(ValueError):
    """A system entry in a config is wrong; the message names the field and the allowed values."""


def register_system(name: str) -> Callable[[S], S]:
    """Class decorator registering a :class:`SplitSystem` subclass under ``name``."""

    def decorate(cls: S) -> S:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"system name {name!r} is already registered by {_REGISTRY[name]}")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


def system_names() -> list[str]:
    """Registered system names, sorted."""
    return sorted(_REGISTRY)


def system_class(name: str) -> type[SplitSystem]:
    """The class registered under ``name``; ``SystemConfigError`` lists the names otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise SystemConfigError(
            f"unknown system {name!r}; registered systems: {', '.join(system_names())}"
        ) from None


def validate_params(name: str, params: Mapping[str, Any], where: str = "systems") -> Any:
    """Validate ``params`` against system ``name``'s parameter model; errors name each field."""
    cls = system_class(name)
    try:
        return cls.Params.model_validate(dict(params))
    except ValidationError as exc:
        allowed = ", ".join(f.alias or n for n, f in cls.Params.model_fields.items())
        lines = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            lines.append(f"{where}.{loc}: {err['msg']}" if loc else f"{where}: {err['msg']}")
        raise SystemConfigError(
            f"bad parameters for system {name!r}:\n  "
            + "\n  ".join(lines)
            + f"\n  (fields of {name!r}: {allowed or 'none'})"
        ) from None


def build_system(name: str, params: Mapping[str, Any], ctx: BuildContext) -> SplitSystem:
    """Validate ``params`` and build system ``name``."""
    validated = validate_params(name, params)
    return system_class(name).variant_class(validated)(validated, ctx)
