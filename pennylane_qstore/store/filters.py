"""Metadata rules and filters in Pinecone's operator syntax, shared by every backend.

A filter is a dict such as ``{"label": {"$in": [3, 5]}, "epoch": {"$gte": 2}}``: field names map
to a value (shorthand for ``$eq``) or to an operator dict; ``$and`` / ``$or`` take lists of
filters. The embedded store and the local Pinecone server evaluate filters with this module, so a
filter behaves the same on every backend.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

MAX_METADATA_BYTES = 40_960
"""Pinecone's limit on one record's metadata (40 KB of JSON)."""

COMPARISONS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte")
MEMBERSHIP = ("$in", "$nin")
OPERATORS = (*COMPARISONS, *MEMBERSHIP, "$exists")
_SCALARS = (str, int, float, bool)


class FilterError(ValueError):
    """A metadata filter that is not valid Pinecone filter syntax."""


class MetadataError(ValueError):
    """Metadata that Pinecone (and therefore this store) cannot hold."""


def validate_metadata(metadata: Any, where: str = "metadata") -> dict[str, Any]:
    """Check one record's metadata and return it as a plain dict.

    Values must be strings, numbers, booleans or lists of strings (Pinecone's rule), and the
    record's metadata must encode to at most 40 KB of JSON.

    Raises:
        MetadataError: naming the offending key and what to store instead.
    """
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise MetadataError(f"{where} must be a dict of str keys, got {type(metadata).__name__}")
    out: dict[str, Any] = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not key or key.startswith("$"):
            raise MetadataError(f"{where}: key {key!r} must be a non-empty str not starting with $")
        if isinstance(value, _SCALARS):
            if isinstance(value, float) and value != value:
                raise MetadataError(f"{where}[{key!r}] is NaN; store a number or a string")
            out[key] = value
        elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            out[key] = list(value)
        else:
            raise MetadataError(
                f"{where}[{key!r}] = {value!r:.60} is a {type(value).__name__}; metadata values "
                "must be str, int, float, bool or a list of str (json.dumps nested data)"
            )
    size = len(json.dumps(out).encode())
    if size > MAX_METADATA_BYTES:
        raise MetadataError(
            f"{where} is {size} bytes of JSON, over the {MAX_METADATA_BYTES}-byte limit per "
            "record; keep large payloads (full circuits, arrays) elsewhere and store a reference"
        )
    return out


def validate_filter(flt: Any) -> dict[str, Any] | None:
    """Check a filter's syntax and return it (``None`` or ``{}``: no filter).

    Raises:
        FilterError: naming the bad operator or operand and the valid choices.
    """
    if flt is None or (isinstance(flt, Mapping) and not flt):
        return None
    _check(flt, "filter")
    return dict(flt)


def _check(flt: Any, where: str) -> None:
    if not isinstance(flt, Mapping) or not flt:
        raise FilterError(f"{where} must be a non-empty dict, got {flt!r:.60}")
    for key, cond in flt.items():
        if key in ("$and", "$or"):
            if not isinstance(cond, list) or not cond:
                raise FilterError(f"{where}: {key} takes a non-empty list of filters")
            for i, sub in enumerate(cond):
                _check(sub, f"{where}.{key}[{i}]")
        elif not isinstance(key, str) or key.startswith("$"):
            raise FilterError(
                f"{where}: unknown top-level operator {key!r}; use $and, $or or a field name"
            )
        elif isinstance(cond, Mapping):
            if not cond:
                raise FilterError(f"{where}[{key!r}] is an empty operator dict")
            for op, operand in cond.items():
                _check_operand(op, operand, f"{where}[{key!r}]")
        else:
            _check_operand("$eq", cond, f"{where}[{key!r}]")


def _check_operand(op: str, operand: Any, where: str) -> None:
    if op not in OPERATORS:
        raise FilterError(f"{where}: unknown operator {op!r}; valid: {', '.join(OPERATORS)}")
    if op in MEMBERSHIP:
        if not isinstance(operand, list) or not all(isinstance(v, _SCALARS) for v in operand):
            raise FilterError(f"{where}: {op} takes a list of str/number/bool, got {operand!r:.60}")
    elif op == "$exists":
        if not isinstance(operand, bool):
            raise FilterError(f"{where}: $exists takes true or false, got {operand!r:.60}")
    elif op in ("$eq", "$ne"):
        if not isinstance(operand, _SCALARS):
            raise FilterError(f"{where}: {op} takes a str/number/bool, got {operand!r:.60}")
    elif isinstance(operand, bool) or not isinstance(operand, (int, float)):
        raise FilterError(f"{where}: {op} takes a number, got {operand!r:.60}")


def matches(flt: Mapping[str, Any] | None, metadata: Mapping[str, Any]) -> bool:
    """Whether a record's metadata satisfies a (validated) filter."""
    if not flt:
        return True
    for key, cond in flt.items():
        if key == "$and":
            ok = all(matches(sub, metadata) for sub in cond)
        elif key == "$or":
            ok = any(matches(sub, metadata) for sub in cond)
        elif isinstance(cond, Mapping):
            ok = all(_apply(op, operand, key, metadata) for op, operand in cond.items())
        else:
            ok = _apply("$eq", cond, key, metadata)
        if not ok:
            return False
    return True


def _same(a: Any, b: Any) -> bool:
    """Equality without ``True == 1`` (Pinecone keeps booleans and numbers apart)."""
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def _apply(op: str, operand: Any, key: str, metadata: Mapping[str, Any]) -> bool:
    present = key in metadata
    if op == "$exists":
        return present == operand
    value = metadata.get(key)
    values = value if isinstance(value, list) else [value]
    if op == "$eq":
        return present and any(_same(v, operand) for v in values)
    if op == "$ne":
        return not (present and any(_same(v, operand) for v in values))
    if op == "$in":
        return present and any(_same(v, o) for v in values for o in operand)
    if op == "$nin":
        return not (present and any(_same(v, o) for v in values for o in operand))
    if not present or isinstance(value, (bool, str, list)):
        return False
    return {
        "$gt": value > operand,
        "$gte": value >= operand,
        "$lt": value < operand,
        "$lte": value <= operand,
    }[op]
