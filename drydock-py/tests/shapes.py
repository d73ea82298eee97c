"""A run-time check that a value has the shape a type in ``drydock.types``
describes: every required key of a TypedDict present, no key it does not
declare, and each value of the declared type (lists, dicts, tuples,
Optional/Union, str, int, bool, bytes, Any), recursively. The live tests
hold the server's real answers to the stubs with it."""

from typing import Any, Union, get_args, get_origin, get_type_hints


def _is_typeddict(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, dict) and hasattr(kind, "__required_keys__")


def problems(value: Any, kind: Any, where: str = "answer") -> list:
    """What does not match, as a list of ``where: what`` lines (empty when it matches)."""
    if kind is Any:
        return []
    if kind is type(None):
        return [] if value is None else [f"{where}: {value!r} is not None"]
    if _is_typeddict(kind):
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__} is not a {kind.__name__}"]
        hints = get_type_hints(kind)
        found = [f"{where}: no {key!r} ({kind.__name__})" for key in sorted(kind.__required_keys__ - value.keys())]
        found += [f"{where}: {key!r} is not in {kind.__name__}" for key in sorted(value.keys() - hints.keys())]
        for key in sorted(value.keys() & hints.keys()):
            found += problems(value[key], hints[key], f"{where}[{key!r}]")
        return found
    origin, arguments = get_origin(kind), get_args(kind)
    if origin is Union:
        alternatives = [problems(value, option, where) for option in arguments]
        return [] if any(not found for found in alternatives) else min(alternatives, key=len)
    if origin is list:
        if not isinstance(value, list):
            return [f"{where}: {type(value).__name__} is not a list"]
        return [line for index, item in enumerate(value) for line in problems(item, arguments[0], f"{where}[{index}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__} is not a dict"]
        return [line for key, item in value.items() for line in problems(key, arguments[0], f"{where} key") + problems(item, arguments[1], f"{where}[{key!r}]")]
    if origin is tuple:
        if not isinstance(value, tuple) or len(value) != len(arguments):
            return [f"{where}: {value!r} is not a {len(arguments)}-tuple"]
        return [line for index, (item, part) in enumerate(zip(value, arguments)) for line in problems(item, part, f"{where}[{index}]")]
    if kind is int:
        return [] if isinstance(value, int) and not isinstance(value, bool) else [f"{where}: {value!r} is not an int"]
    if isinstance(kind, type):
        return [] if isinstance(value, kind) else [f"{where}: {value!r} is not a {kind.__name__}"]
    raise TypeError(f"shapes.py cannot check {kind!r}")


def assert_shape(value: Any, kind: Any, where: str = "answer") -> None:
    """Fail with every mismatch listed."""
    found = problems(value, kind, where)
    assert not found, "\n".join(found[:20])


