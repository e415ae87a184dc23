"""Hypothesis strategies and helpers shared by the property tests: arbitrary JSON, near-valid
records (one change to a valid one), and running a parser to its result or allowed error."""

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from hypothesis import strategies as st

from engine.errors import EngineError

T = TypeVar("T")
E = TypeVar("E", bound=EngineError)
Path_ = tuple[str | int, ...]

# Arbitrary JSON, as json.loads hands it over.
JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def paths(value: Any, prefix: Path_ = ()) -> Iterator[Path_]:
    """Every key and index path inside nested JSON."""
    children: Any = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, child in children:
        yield (*prefix, key)
        yield from paths(child, (*prefix, key))


def at(value: Any, path: Path_) -> Any:
    """The value at a path inside nested JSON."""
    for part in path:
        value = value[part]
    return value


@st.composite
def near_valid(
    draw: st.DrawFn, record: Any, replacements: st.SearchStrategy[Any]
) -> tuple[Any, Path_, str]:
    """A record with one value replaced or removed, or extra keys added: (record, where, how)."""
    record = copy.deepcopy(record)
    places = list(paths(record))
    how = draw(st.sampled_from(["replace", "remove", "extra"] if places else ["extra"]))
    if how == "extra":
        objects = [p for p in [(), *places] if isinstance(at(record, p), dict)]
        where = draw(st.sampled_from(objects))
        extra = st.text(max_size=8).map(lambda k: f"x-{k}")
        at(record, where).update(draw(st.dictionaries(extra, JSON_VALUES, min_size=1, max_size=3)))
        return record, where, how
    where = draw(st.sampled_from(places))
    parent = at(record, where[:-1])
    if how == "remove":
        del parent[where[-1]]
    else:
        parent[where[-1]] = draw(replacements)
    return record, where, how


def dumps(value: Any, *, ascii_only: bool = True) -> bytes:
    """JSON of a value as a file would hold it (unescaped lone surrogates make it bad UTF-8)."""
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


def outcome(call: Callable[[], T], allowed: type[E]) -> T | E:
    """What a call returned, or the allowed error it raised; any other exception fails the test."""
    try:
        return call()
    except allowed as error:
        return error
