"""Options inside a spec argument: ``NAME:PATH?key=value&key=value``.

Registry factories receive one string, so per-model settings (truncation, trusting a
pickled checkpoint, segmenter input size) travel in a query-string suffix. The last
``?`` splits, so directories containing ``?`` still work when no options are given.
"""

from __future__ import annotations

from collections.abc import Iterable

from ganscope.errors import GanscopeError

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}


def split_options(arg: str | None, allowed: Iterable[str], kind: str) -> tuple[str, dict[str, str]]:
    """``'PATH?a=1&b=2'`` -> ``('PATH', {'a': '1', 'b': '2'})``, rejecting unknown keys."""
    if not arg:
        raise GanscopeError(f"{kind} needs a path or catalog name, e.g. {kind}:PATH")
    path, sep, query = arg.rpartition("?")
    if not sep:
        return arg, {}
    allowed = set(allowed)
    options: dict[str, str] = {}
    for item in filter(None, query.split("&")):
        key, eq, value = item.partition("=")
        if key not in allowed:
            raise GanscopeError(f"{kind}: unknown option {key!r}; valid options: {', '.join(sorted(allowed))}")
        options[key] = value if eq else "true"
    return path, options


def as_bool(options: dict[str, str], key: str, default: bool = False) -> bool:
    value = options.get(key)
    if value is None:
        return default
    if value.lower() in TRUE_WORDS | FALSE_WORDS:
        return value.lower() in TRUE_WORDS
    raise GanscopeError(f"option {key}={value!r}: use true or false")


def as_float(options: dict[str, str], key: str, default: float, lo: float, hi: float) -> float:
    value = options.get(key)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise GanscopeError(f"option {key}={value!r} is not a number") from None
    if not lo <= number <= hi:
        raise GanscopeError(f"option {key}={number} must be in [{lo}, {hi}]")
    return number
