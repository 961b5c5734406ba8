"""Pytrees (tuples, lists, dicts; anything else is a leaf), as ``torch.utils._pytree``: the structure
``tape.func``'s transforms and the legacy ``tape._vmap_internals`` take their inputs and outputs apart by."""
from __future__ import annotations

from typing import Any, Optional


class TreeSpec:
    """The structure of a pytree: its node type, its context (a dict's keys) and its children's."""

    __slots__ = ("type", "context", "children", "num_leaves")

    def __init__(self, type_: Optional[type], context: Any, children: list) -> None:
        self.type = type_
        self.context = context
        self.children = children
        self.num_leaves = 1 if type_ is None else sum(c.num_leaves for c in children)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TreeSpec) and (self.type, self.context, self.children) == \
            (other.type, other.context, other.children)

    def __repr__(self, indent: int = 0) -> str:
        if self.type is None:
            return "*"
        text = ""
        if self.children:
            indent += 2
            text = self.children[0].__repr__(indent) + ("," if len(self.children) > 1 else "")
            text += ",".join("\n" + " " * indent + c.__repr__(indent) for c in self.children[1:])
        return f"TreeSpec({self.type.__name__}, {self.context}, [{text}])"


_LEAF = TreeSpec(None, None, [])


def _children(tree: Any) -> Optional[tuple]:
    kind = type(tree)
    if kind is tuple or kind is list:
        return kind, None, list(tree)
    if kind is dict:
        return kind, list(tree), list(tree.values())
    return None


def tree_flatten(tree: Any) -> tuple:
    """``(leaves, spec)`` of ``tree``."""
    leaves: list = []

    def go(t):
        node = _children(t)
        if node is None:
            leaves.append(t)
            return _LEAF
        kind, context, kids = node
        return TreeSpec(kind, context, [go(k) for k in kids])
    return leaves, go(tree)


def tree_unflatten(leaves: list, spec: TreeSpec) -> Any:
    """The pytree of ``spec``'s structure holding ``leaves``."""
    it = iter(leaves)

    def go(s):
        if s.type is None:
            return next(it)
        kids = [go(c) for c in s.children]
        if s.type is dict:
            return dict(zip(s.context, kids))
        return s.type(kids)
    return go(spec)


def _broadcast(prefix: Any, spec: TreeSpec) -> Optional[list]:
    """``prefix`` (a pytree whose leaves stand for whole subtrees of ``spec``) flattened to one entry
    per leaf of ``spec``; None if it is not a prefix of ``spec``."""
    node = _children(prefix)
    if node is None:
        return [prefix] * spec.num_leaves
    kind, context, kids = node
    if spec.type is not kind or context != spec.context or len(kids) != len(spec.children):
        return None
    out = []
    for k, s in zip(kids, spec.children):
        part = _broadcast(k, s)
        if part is None:
            return None
        out += part
    return out
