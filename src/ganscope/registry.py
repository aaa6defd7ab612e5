"""Specs for generators and segmenters: a registry name, ``name:ARG``, or ``package.module:callable``."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

from ganscope.errors import GanscopeError

Factory = Callable[[str | None], Any]


def resolve(spec: str, registry: dict[str, Factory], kind: str) -> Any:
    """Build the object a spec names; registry names win over module paths."""
    name, _, arg = spec.partition(":")
    if name in registry:
        return registry[name](arg or None)
    known = ", ".join(sorted(registry))
    if not arg:
        raise GanscopeError(f"unknown {kind} {spec!r}; use a registered name ({known}) or package.module:callable")
    try:
        module = importlib.import_module(name)
    except Exception as err:  # a missing module, a relative name, or a module that fails on import
        raise GanscopeError(
            f"{kind} spec {spec!r}: {name!r} is neither a registered name ({known}) nor an importable module ({err})"
        ) from err
    factory = getattr(module, arg, None)
    if not callable(factory):
        raise GanscopeError(f"{name!r} has no callable {arg!r} (from {kind} spec {spec!r})")
    try:
        inspect.signature(factory).bind()
    except TypeError as err:
        raise GanscopeError(f"{kind} spec {spec!r}: {arg!r} must be callable without arguments ({err})") from err
    except ValueError:  # some built-ins have no signature: let the call decide
        pass
    return factory()
