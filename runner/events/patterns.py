"""EventBridge event patterns: checking a pattern, and matching an event against it.

The documented content filtering (eventbridge/latest/userguide/eb-event-patterns-content-based-filtering):
a pattern mirrors the event's structure; every key must match (AND), and each leaf is a
list of conditions of which one must match (OR). A condition is an exact value (string,
number, boolean, null) or one of `prefix`, `suffix`, `equals-ignore-case`, `wildcard`,
`anything-but`, `numeric`, `exists`, `cidr`; `$or` lists alternative sub-patterns. An array
in the event matches when any of its elements does. A missing field only matches
`{"exists": false}`.

No maintained Python implementation exists on PyPI (the one binding, `event-ruler`, is a
2023 one-off wrapper of a Go build for one Python version), so this is ours, tested
against the examples of AWS's documentation (tests/unit/test_event_patterns.py).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping
from typing import Any

Path = tuple[str | int, ...]
Problem = tuple[Path, str]

_MISSING = object()
_OPERATORS = (
    "prefix",
    "suffix",
    "equals-ignore-case",
    "wildcard",
    "anything-but",
    "numeric",
    "exists",
    "cidr",
)
_COMPARE = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "=": lambda a, b: a == b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | bool | int | float)


# ---------------------------------------------------------------- checking


def problems(pattern: Any) -> list[Problem]:
    """Everything wrong with a pattern, each with the path to the offending value."""
    if not isinstance(pattern, Mapping) or not pattern:
        return [((), "expected a mapping of event fields to lists of values")]
    return list(_check_object(pattern, ()))


def _check_object(pattern: Mapping[str, Any], path: Path) -> Iterator[Problem]:
    for key, value in pattern.items():
        here = (*path, key)
        if key == "$or":
            yield from _check_or(value, here)
        elif isinstance(value, Mapping):
            yield from (_check_object(value, here) if value else [(here, "expected a non-empty mapping")])
        elif isinstance(value, list | tuple):
            if not value:
                yield here, "expected at least one value"
            for index, condition in enumerate(value):
                yield from _check_condition(condition, (*here, index))
        else:
            yield here, "expected a list of values (e.g. [FAILED]) or a mapping of nested fields"


def _check_or(value: Any, path: Path) -> Iterator[Problem]:
    if not isinstance(value, list | tuple) or len(value) < 2:
        yield path, "expected a list of at least two sub-patterns"
        return
    for index, sub in enumerate(value):
        if not isinstance(sub, Mapping) or not sub:
            yield (*path, index), "expected a mapping (a sub-pattern)"
        else:
            yield from _check_object(sub, (*path, index))


def _check_condition(condition: Any, path: Path) -> Iterator[Problem]:
    if _is_scalar(condition):
        return
    if not isinstance(condition, Mapping) or len(condition) != 1:
        yield path, f"expected a value or a mapping with one of: {', '.join(_OPERATORS)}"
        return
    operator, operand = next(iter(condition.items()))
    if operator not in _OPERATORS:
        yield (*path, operator), f"unknown operator; expected one of: {', '.join(_OPERATORS)}"
        return
    message = _operand_problem(operator, operand)
    if message:
        yield (*path, operator), message


def _operand_problem(operator: str, operand: Any) -> str | None:
    if operator in ("prefix", "suffix"):
        return None if _is_text_or_ignore_case(operand) else "expected a string or {equals-ignore-case: TEXT}"
    if operator in ("equals-ignore-case", "wildcard"):
        return None if isinstance(operand, str) else "expected a string"
    if operator == "exists":
        return None if isinstance(operand, bool) else "expected true or false"
    if operator == "cidr":
        return None if _network(operand) is not None else "expected an IP network such as 10.0.0.0/24"
    if operator == "numeric":
        return _numeric_problem(operand)
    return _anything_but_problem(operand)


def _is_text_or_ignore_case(operand: Any) -> bool:
    if isinstance(operand, str):
        return True
    return (
        isinstance(operand, Mapping)
        and set(operand) == {"equals-ignore-case"}
        and (isinstance(operand["equals-ignore-case"], str))
    )


def _numeric_problem(operand: Any) -> str | None:
    expected = "expected [OP, NUMBER] or [>/>=, NUMBER, </<=, NUMBER] with OP one of < <= = > >="
    if not isinstance(operand, list | tuple) or len(operand) not in (2, 4):
        return expected
    pairs = [(operand[i], operand[i + 1]) for i in range(0, len(operand), 2)]
    if any(op not in _COMPARE or not _is_number(number) for op, number in pairs):
        return expected
    if len(pairs) == 2:
        (low_op, low), (high_op, high) = pairs
        if low_op not in (">", ">=") or high_op not in ("<", "<=") or low > high:
            return "expected a range: [>/>=, LOW, </<=, HIGH] with LOW <= HIGH"
    return None


def _anything_but_problem(operand: Any) -> str | None:
    if _is_scalar(operand) and operand is not None:
        return None
    if isinstance(operand, list | tuple):
        kinds = {"number" if _is_number(v) else type(v).__name__ for v in operand}
        return (
            None if operand and kinds in ({"str"}, {"number"}) else "expected a list of strings or of numbers"
        )
    if isinstance(operand, Mapping) and len(operand) == 1:
        inner, value = next(iter(operand.items()))
        if inner in ("prefix", "suffix") and isinstance(value, str):
            return None
        if inner in ("equals-ignore-case", "wildcard") and (
            isinstance(value, str)
            or (isinstance(value, list | tuple) and all(isinstance(v, str) for v in value))
        ):
            return None
    return "expected a value, a list, or {prefix|suffix|equals-ignore-case|wildcard: TEXT}"


def _network(text: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text, strict=False) if isinstance(text, str) and "/" in text else None
    except ValueError:
        return None


# ---------------------------------------------------------------- matching


def matches(pattern: Mapping[str, Any], event: Any) -> bool:
    """Whether an event (or a nested object of it) matches a checked pattern."""
    for key, expected in pattern.items():
        if key == "$or":
            if not any(matches(sub, event) for sub in expected):
                return False
            continue
        value = event.get(key, _MISSING) if isinstance(event, Mapping) else _MISSING
        if isinstance(expected, Mapping):
            if not _nested_matches(expected, value):
                return False
        elif not _leaf_matches(expected, value):
            return False
    return True


def _nested_matches(pattern: Mapping[str, Any], value: Any) -> bool:
    if isinstance(value, list):  # an array of objects: any element may match
        return any(matches(pattern, item) for item in value) or (not value and matches(pattern, {}))
    return matches(pattern, value if isinstance(value, Mapping) else {})


def _leaf_matches(conditions: Any, value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    present = value is not _MISSING and values != []
    for condition in conditions:
        if isinstance(condition, Mapping) and "exists" in condition:
            if condition["exists"] == present:
                return True
        elif present and any(_condition_matches(condition, v) for v in values):
            return True
    return False


def _condition_matches(condition: Any, value: Any) -> bool:
    if not isinstance(condition, Mapping):
        return _equal(condition, value)
    operator, operand = next(iter(condition.items()))
    if operator == "numeric":
        return _is_number(value) and _numeric(operand, value)
    if operator == "cidr":
        return _in_network(operand, value)
    if operator == "anything-but":
        return _anything_but(operand, value)
    return isinstance(value, str) and _text_matches(operator, operand, value)


def _equal(expected: Any, value: Any) -> bool:
    if _is_number(expected) and _is_number(value):
        return float(expected) == float(value)
    return type(expected) is type(value) and expected == value


def _text_matches(operator: str, operand: Any, value: str) -> bool:
    ignore_case = isinstance(operand, Mapping)
    text = str(operand["equals-ignore-case"] if ignore_case else operand)
    if ignore_case or operator == "equals-ignore-case":
        text, value = text.casefold(), value.casefold()
    if operator == "prefix":
        return value.startswith(text)
    if operator == "suffix":
        return value.endswith(text)
    if operator == "wildcard":
        return _wildcard(text).fullmatch(value) is not None
    return value == text


def _wildcard(text: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in text.split("*")), re.DOTALL)


def _numeric(operand: list[Any], value: float) -> bool:
    return all(bool(_COMPARE[operand[i]](value, operand[i + 1])) for i in range(0, len(operand), 2))


def _in_network(operand: str, value: Any) -> bool:
    network = _network(operand)
    try:
        return isinstance(value, str) and network is not None and ipaddress.ip_address(value) in network
    except ValueError:
        return False


def _anything_but(operand: Any, value: Any) -> bool:
    if isinstance(operand, Mapping):
        inner, text = next(iter(operand.items()))
        texts = text if isinstance(text, list | tuple) else [text]
        return isinstance(value, str) and not any(_text_matches(inner, t, value) for t in texts)
    excluded = operand if isinstance(operand, list | tuple) else [operand]
    return not any(_equal(e, value) for e in excluded)
