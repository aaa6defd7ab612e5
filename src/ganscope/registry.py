"""Specs for generators and segmenters: a registry name, ``name:ARG``, or ``package.module:callable``."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from typing import Any

from ganscope.io import GanscopeError

Factory = Callable[[str | None], Any]


def resolve(spec: str, registry: dict[str, Factory], kind: str) -> Any:
    """Build the object a spec names; registry names win over module paths."""
    name, _, arg = spec.partition(":")
    if name in registry:
        return registry[name](arg or None)
    if arg and "." not in name and name.isidentifier() and not _is_module(name):
        raise GanscopeError(f"unknown {kind} {name!r}; registered: {', '.join(sorted(registry))}")
    if not arg:
        raise GanscopeError(
            f"unknown {kind} {spec!r}; use a registered name ({', '.join(sorted(registry))}) "
            "or package.module:callable"
        )
    try:
        module = importlib.import_module(name)
    except ImportError as err:
        raise GanscopeError(f"cannot import {name!r} for {kind} spec {spec!r}: {err}") from err
    factory = getattr(module, arg, None)
    if not callable(factory):
        raise GanscopeError(f"{name!r} has no callable {arg!r} (from {kind} spec {spec!r})")
    return factory()


def _is_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None
