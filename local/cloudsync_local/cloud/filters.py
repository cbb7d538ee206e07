"""Event filtering as Lambda's event source mappings do it (EventBridge-style patterns).

The subset the tracker's mapping needs, implemented generically: a pattern is a dict whose
leaves are lists of allowed values; nested dicts descend into the record. Also understood, since
they cost little: ``{"exists": bool}``, ``{"prefix": str}``, ``{"anything-but": [...]}`` and
``{"numeric": [op, n, ...]}``. Anything else is refused when the filter is built, so a pattern
the local cloud cannot evaluate never silently passes or drops records.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

_MISSING = object()
_NUMERIC: dict[str, Callable[[float, float], bool]] = {
    "=": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def validate(pattern: Mapping[str, Any]) -> None:
    """Raise ValueError for a pattern this module cannot evaluate faithfully."""
    for key, rule in pattern.items():
        if isinstance(rule, Mapping):
            validate(rule)
        elif isinstance(rule, list):
            for allowed in rule:
                if isinstance(allowed, Mapping):
                    _check_operator(allowed)
                elif not (allowed is None or isinstance(allowed, str | int | float | bool)):
                    raise ValueError(f"unsupported value {allowed!r} under {key!r}")
        else:
            raise ValueError(f"pattern leaves must be lists, not {rule!r} under {key!r}")


def _check_operator(rule: Mapping[str, Any]) -> None:
    if len(rule) != 1:
        raise ValueError(f"one operator per rule: {dict(rule)!r}")
    op, arg = next(iter(rule.items()))
    if op == "exists" and isinstance(arg, bool):
        return
    if op == "prefix" and isinstance(arg, str):
        return
    if op == "anything-but" and isinstance(arg, list | str | int | float):
        return
    if op == "numeric" and isinstance(arg, list) and len(arg) % 2 == 0 and arg:
        if all(o in _NUMERIC for o in arg[::2]):
            return
    raise ValueError(f"unsupported filter rule {dict(rule)!r}")


def matches(pattern: Mapping[str, Any], event: Any) -> bool:
    """True when ``event`` satisfies every key of ``pattern``."""
    if not isinstance(event, Mapping):
        return False
    for key, rule in pattern.items():
        value = event.get(key, _MISSING)
        if isinstance(rule, Mapping):
            if value is _MISSING or not matches(rule, value):
                return False
        elif not _leaf_matches(rule, value):
            return False
    return True


def _leaf_matches(allowed: list[Any], value: Any) -> bool:
    # An array in the event matches when any of its elements does.
    values = value if isinstance(value, list) else [value]
    return any(_one_matches(rule, v) for rule in allowed for v in values)


def _one_matches(rule: Any, value: Any) -> bool:
    if isinstance(rule, Mapping):
        op, arg = next(iter(rule.items()))
        if op == "exists":
            return (value is not _MISSING) is bool(arg)
        if value is _MISSING:
            return False
        if op == "prefix":
            return isinstance(value, str) and value.startswith(arg)
        if op == "anything-but":
            excluded = arg if isinstance(arg, list) else [arg]
            return value not in excluded
        if op == "numeric":
            number = _number(value)
            if number is None:
                return False
            pairs = zip(arg[::2], arg[1::2], strict=True)
            return all(_NUMERIC[o](number, float(n)) for o, n in pairs)
        return False
    if value is _MISSING or isinstance(value, Mapping):
        return False
    if isinstance(rule, bool) or isinstance(value, bool):
        return rule is value
    return bool(rule == value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None
