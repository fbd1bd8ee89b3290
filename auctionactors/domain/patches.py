"""JSON Patch (RFC 6902) operations between two encodings of the same document, part by part
(`parts`): parts are JSON texts (bytes) compared byte for byte, never decoded; a list is one
text per element, and its operations are made element by element. Paths are built from field
names that never need JSON Pointer escaping (the view's own names)."""

from __future__ import annotations

from collections.abc import Sequence
from difflib import SequenceMatcher
from typing import Any

import msgspec

Leaves = dict[str, bytes | list[bytes]]  # fields, each a JSON text; a list: one per element


def dict_ops(path: str, old: Leaves, new: Leaves, ops: list[dict[str, Any]]) -> None:
    """Operations turning the fields ``old`` into ``new`` (under ``path``), appended to ``ops``;
    a field that is the same object in both is skipped at once."""
    for key, value in new.items():
        was = old.get(key)
        if was is not value:
            key_op(path, key, was, value, ops)
    for key in old:
        if key not in new:
            ops.append({"op": "remove", "path": f"{path}/{key}"})


def key_op(
    path: str,
    key: str,
    was: bytes | list[bytes] | None,
    value: bytes | list[bytes],
    ops: list[dict[str, Any]],
) -> None:
    """The operations turning the field ``key`` from ``was`` (None: absent) into ``value``:
    a list element by element (`list_ops`), anything else as a whole (`field_op`)."""
    if isinstance(value, list) and isinstance(was, list):
        list_ops(f"{path}/{key}", was, value, ops)
    else:
        field_op(path, key, was, value, ops)


def field_op(
    path: str,
    key: str,
    was: bytes | list[bytes] | None,
    value: bytes | list[bytes],
    ops: list[dict[str, Any]],
) -> None:
    """The operation (if any) turning the field ``key`` from ``was`` (None: absent) into
    ``value``, compared as a whole."""
    if was is None:
        ops.append({"op": "add", "path": f"{path}/{key}", "value": raw(value)})
    elif was != value:
        ops.append({"op": "replace", "path": f"{path}/{key}", "value": raw(value)})


def raw(value: bytes | list[bytes]) -> Any:
    return msgspec.Raw(value) if isinstance(value, bytes) else [msgspec.Raw(v) for v in value]


# A list's operations as (op, index, j): ``add``/``replace`` take the new list's element j,
# ``remove`` has j = -1. They depend only on which elements are equal (`list_program`), so
# lists that differ from others only by a substitution that keeps that pattern share them.
Program = list[tuple[str, int, int]]


def list_ops(path: str, old: list[bytes], new: list[bytes], ops: list[dict[str, Any]]) -> None:
    """Operations turning the list ``old`` into ``new``, element by element: a bid that moves
    to the top of its product is one ``add`` and one ``remove``, an appended comment one
    ``add``. Past their common beginning and end, `difflib` matches what stayed."""
    program_ops(path, list_program(old, new), new, ops)


def program_ops(path: str, program: Program, new: list[bytes], ops: list[dict[str, Any]]) -> None:
    """``program``'s operations on ``path``, with their values from ``new``."""
    for op, at, j in program:
        if j < 0:
            ops.append({"op": op, "path": f"{path}/{at}"})
        else:
            ops.append({"op": op, "path": f"{path}/{at}", "value": msgspec.Raw(new[j])})


def list_program(old: list[bytes], new: list[bytes]) -> Program:
    """`list_ops` as a `Program`: made from which elements of ``old`` and ``new`` are equal,
    and nothing else."""
    program: Program = []
    if old == new:
        return program
    n, m = len(old), len(new)
    start = 0
    while start < n and start < m and old[start] == new[start]:
        start += 1
    end = 0
    while end < n - start and end < m - start and old[n - 1 - end] == new[m - 1 - end]:
        end += 1
    a, b = old[start : n - end], new[start : m - end]
    opcodes: Sequence[tuple[str, int, int, int, int]]
    if not a or not b or len(a) == len(b) == 1:
        opcodes = [("replace", 0, len(a), 0, len(b))]
    elif a[:-1] == b[1:]:  # one element came first (a bid now best), the last one went
        opcodes = [("insert", 0, 0, 0, 1), ("delete", len(a) - 1, len(a), len(b), len(b))]
    elif a[1:] == b[:-1]:  # the first one went, one came last
        opcodes = [("delete", 0, 1, 0, 0), ("insert", len(a), len(a), len(b) - 1, len(b))]
    else:
        opcodes = SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    shift = start  # where old's element i is in the list being patched: i + shift
    for _, i1, i2, j1, j2 in opcodes:
        was, now = i2 - i1, j2 - j1
        if (not was and not now) or (was == now and a[i1:i2] == b[j1:j2]):
            continue
        at = i1 + shift
        common = min(was, now)
        for k in range(common):
            program.append(("replace", at + k, start + j1 + k))
        for k in range(common, now):  # in order: each lands where it belongs
            program.append(("add", at + k, start + j1 + k))
        for _ in range(common, was):
            program.append(("remove", at + common, -1))
        shift += now - was
    return program
