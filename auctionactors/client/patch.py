"""JSON Patch (RFC 6902) for the client's views, copy-on-write.

`apply` returns the patched document and leaves the one it was given untouched: only the
containers on the path of an operation are copied (shallowly, once per patch), everything else is
shared with the previous view. So each update the client hands out keeps the view as it was at
its seq, the cost of a patch depends on the patch and not on the view, and a patch that fails
half-way changes nothing. Views are read-only by convention: a caller must not mutate one.

Why not the ``jsonpatch`` library: applied in place it mutates the one view every earlier update
shares (a queued update would show a later state), so each update would need a copy of the whole
view on top; not in place it deep-copies the whole view. Both cost several times this applier on
a bid's patch (``scripts/bench_client.py`` prints the figures). Every operation of RFC 6902 is
here: add, remove, replace, move, copy, test; the tests check it against ``jsonpatch``.
"""

from __future__ import annotations

import copy
from typing import Any

Json = Any
_MISSING = object()


class PatchError(ValueError):
    """The patch is malformed or does not apply to the document (RFC 6902 section 5)."""


def apply(doc: Json, ops: list[dict[str, Any]]) -> Json:
    """``doc`` with ``ops`` applied; ``doc`` itself is not modified. Raises `PatchError`."""
    if not isinstance(ops, list):
        raise PatchError("a patch is a list of operations")
    return _Patching(doc).run(ops)


class _Patching:
    """One patch being applied: the root so far, and the containers copied for it (keyed by id,
    kept alive here so that no id is reused while the patch runs): those may be mutated."""

    def __init__(self, root: Json) -> None:
        self.root = root
        self.owned: dict[int, Json] = {}

    def run(self, ops: list[dict[str, Any]]) -> Json:
        for op in ops:
            if not isinstance(op, dict):
                raise PatchError(f"an operation is an object, not {op!r}")
            name = op.get("op")
            path = _pointer(op, "path")
            if name == "add":
                self.add(path, _value(op))
            elif name == "remove":
                self.remove(path)
            elif name == "replace":
                self.replace(path, _value(op))
            elif name == "move":
                source = _pointer(op, "from")
                if path[: len(source)] == source and len(path) > len(source):
                    raise PatchError(f"cannot move {op['from']!r} into itself")
                value = self.get(source)
                if source != path:
                    self.remove(source)
                    self.add(path, value)
            elif name == "copy":
                self.add(path, copy.deepcopy(self.get(_pointer(op, "from"))))
            elif name == "test":
                if not _equal(self.get(path), _value(op)):
                    raise PatchError(f"test failed at {op['path']!r}")
            else:
                raise PatchError(f"unknown operation {name!r}")
        return self.root

    def get(self, path: list[str]) -> Json:
        node = self.root
        for token in path:
            node = _child(node, token)
        return node

    def add(self, path: list[str], value: Json) -> None:
        if not path:
            self.root = value
            return
        parent, token = self._parent(path), path[-1]
        if isinstance(parent, dict):
            parent[token] = value
        elif isinstance(parent, list):
            index = len(parent) if token == "-" else _index(token, len(parent) + 1)
            parent.insert(index, value)
        else:
            raise PatchError(f"cannot add into a {type(parent).__name__}")

    def replace(self, path: list[str], value: Json) -> None:
        if not path:
            self.root = value
            return
        parent, token = self._parent(path), path[-1]
        if isinstance(parent, dict):
            if token not in parent:
                raise PatchError(f"no member {token!r} to replace")
            parent[token] = value
        elif isinstance(parent, list):
            parent[_index(token, len(parent))] = value
        else:
            raise PatchError(f"cannot replace in a {type(parent).__name__}")

    def remove(self, path: list[str]) -> None:
        if not path:
            raise PatchError("cannot remove the whole document")
        parent, token = self._parent(path), path[-1]
        if isinstance(parent, dict):
            if token not in parent:
                raise PatchError(f"no member {token!r} to remove")
            del parent[token]
        elif isinstance(parent, list):
            del parent[_index(token, len(parent))]
        else:
            raise PatchError(f"cannot remove from a {type(parent).__name__}")

    def _parent(self, path: list[str]) -> Json:
        """The container that holds ``path``'s last token, made writable: it and every
        container above it are copies owned by this patch."""
        owned = self.owned
        node = self.root
        if id(node) not in owned:
            self.root = node = self._own(node)
        for token in path[:-1]:
            if isinstance(node, dict):
                child = node.get(token, _MISSING)
                if child is _MISSING:
                    raise PatchError(f"no member {token!r}")
                if id(child) not in owned:
                    child = node[token] = self._own(child)
            elif isinstance(node, list):
                index = _index(token, len(node))
                child = node[index]
                if id(child) not in owned:
                    child = node[index] = self._own(child)
            else:
                raise PatchError(f"cannot look into a {type(node).__name__}")
            node = child
        return node

    def _own(self, node: Json) -> Json:
        """A copy of ``node`` that this patch may mutate (scalars are returned as they are)."""
        if not isinstance(node, (dict, list)):
            return node
        mine = node.copy()
        self.owned[id(mine)] = mine
        return mine


def _child(node: Json, token: str) -> Json:
    if isinstance(node, dict):
        if token not in node:
            raise PatchError(f"no member {token!r}")
        return node[token]
    if isinstance(node, list):
        return node[_index(token, len(node))]
    raise PatchError(f"cannot look into a {type(node).__name__}")


def _index(token: str, size: int) -> int:
    """An array index token (RFC 6901: digits, no leading zero), below ``size``."""
    if token.isdigit() and token.isascii() and (token[0] != "0" or token == "0"):
        index = int(token)
        if index < size:
            return index
        raise PatchError(f"index {index} out of range")
    raise PatchError(f"not an array index: {token!r}")


def _pointer(op: dict[str, Any], field: str) -> list[str]:
    """A JSON Pointer (RFC 6901) as its unescaped tokens."""
    text = op.get(field)
    if not isinstance(text, str) or (text and not text.startswith("/")):
        raise PatchError(f"{field} is not a JSON pointer: {text!r}")
    if not text:
        return []
    tokens = text[1:].split("/")
    if "~" in text:
        return [t.replace("~1", "/").replace("~0", "~") for t in tokens]
    return tokens


def _value(op: dict[str, Any]) -> Json:
    if "value" not in op:
        raise PatchError(f"{op.get('op')} without a value")
    return op["value"]


def _equal(a: Json, b: Json) -> bool:
    """JSON equality: a boolean is not a number (in Python, True == 1)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)
