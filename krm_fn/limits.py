"""Bounds on the input: size, nesting depth and alias expansion.

A render step reads whatever people commit, so reading must stay cheap for
any stream: no hang, no out-of-memory kill on a crafted file.

Two stages, because the function config that may raise a limit travels
inside the very stream being read:

1. While reading, every stream is measured (:class:`Measure`) and refused as
   soon as it crosses a hard **cap** that no config can raise (:data:`CAPS`).
   The byte cap is checked before parsing; depth and alias expansion are
   measured on the composed YAML node graph before any Python object is
   built, in time proportional to the text (aliases are shared nodes, so a
   "billion laughs" graph is walked once per node, never expanded).
2. Once the config is known, the measure is checked against its limits
   (:data:`DEFAULTS` unless the config sets ``maxInputBytes``, ``maxDepth``
   or ``maxAliases``, each at most its cap).

``maxAliases`` counts what aliases expand to: the number of YAML nodes the
output would gain by writing every ``*alias`` out in full (an alias of a
scalar counts 1, an alias of a 10-item list counts 11).  The output never
contains aliases (kustomize rejects them), so this is the growth the
function would otherwise commit to.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterable

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode


@dataclass(frozen=True)
class Limits:
    maxInputBytes: int
    maxDepth: int
    maxAliases: int


# What a run allows unless the function config says otherwise.
DEFAULTS = Limits(maxInputBytes=16 * 1024 * 1024, maxDepth=100, maxAliases=10_000)
# What no config can raise: bounds memory and time before the config is read.
# (maxDepth stays well below what the YAML writer can recurse through.)
CAPS = Limits(maxInputBytes=32 * 1024 * 1024, maxDepth=256, maxAliases=1_000_000)

# The operator's override of the byte cap: read from the environment, outside the stream it bounds
# (kpt `fn eval -e`, kustomize function `envs`, the Argo CD sidecar's env).
ENV_MAX_INPUT_BYTES = "SECRETREF_FN_MAX_INPUT_BYTES"

FIELDS = ("maxInputBytes", "maxDepth", "maxAliases")
_WHAT = {
    "maxInputBytes": "input is {value} bytes",
    "maxDepth": "input nests {value} levels deep",
    "maxAliases": "YAML aliases expand to {value} nodes",
}


class LimitError(Exception):
    """The stream crossed a cap while being read. ``line`` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


@dataclass
class Measure:
    """What one run read: bytes, deepest nesting, nodes added by aliases (over all documents)."""

    inputBytes: int = 0
    depth: int = 0
    aliases: int = 0

    def value(self, field: str) -> int:
        return {"maxInputBytes": self.inputBytes, "maxDepth": self.depth, "maxAliases": self.aliases}[field]


def problem(field: str, value: int | str, limit: int, capped: bool) -> str:
    what = _WHAT[field].format(value=value)
    if capped:
        return f"{what}, more than the hard limit {limit} ({field} cannot be raised above it)"
    more = f", or set {ENV_MAX_INPUT_BYTES} for more" if field == "maxInputBytes" else ""
    return f"{what}, more than {field} {limit} (raise {field} in the function config, up to {_cap(field)}{more})"


def _cap(field: str) -> int:
    return input_cap() if field == "maxInputBytes" else getattr(CAPS, field)


def _env_bytes() -> int | None:
    raw = os.environ.get(ENV_MAX_INPUT_BYTES, "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else None


def input_cap() -> int:
    """The byte cap: :data:`CAPS` unless the operator set ``SECRETREF_FN_MAX_INPUT_BYTES``."""
    return _env_bytes() or CAPS.maxInputBytes


_CHUNK = 1 << 20


def read_capped(stream) -> bytes:
    """All of a binary ``stream``, but never more than the byte cap + 1 bytes (:func:`check_bytes` then
    refuses it).  Read a chunk at a time: a cap the operator set high reserves no memory up front."""
    limit = input_cap() + 1
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = stream.read(min(_CHUNK, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def check_bytes(size: int, measure: Measure | None = None) -> None:
    """Before parsing: refuse a stream above the byte cap; record its size."""
    raw = os.environ.get(ENV_MAX_INPUT_BYTES, "").strip()
    if raw and _env_bytes() is None:
        raise LimitError(f"{ENV_MAX_INPUT_BYTES} must be a positive number of bytes, found {raw!r}")
    if measure is not None:
        measure.inputBytes += size
        size = measure.inputBytes
    cap = input_cap()
    if size > cap:  # the reader stops at cap + 1: the real size is unknown
        raise LimitError(f"input is larger than the hard limit of {cap} bytes "
                         f"(the operator can raise it with the environment variable {ENV_MAX_INPUT_BYTES})")


def _children(node: Node) -> Iterable[Node]:
    if isinstance(node, SequenceNode):
        return node.value
    if isinstance(node, MappingNode):
        return (n for pair in node.value for n in pair)
    return ()


def measure_node(root: Node, measure: Measure) -> None:
    """Depth and alias expansion of one composed document; raises :class:`LimitError` at a cap.

    Most documents have no alias: one quick pre-order pass over the
    collections finds their depth.  The first node met twice (an alias)
    switches to the general walk.
    """
    if isinstance(root, ScalarNode):
        return
    seen = {id(root)}
    stack = [(root, 1)]
    deepest = 0
    try:
        while stack:
            node, level = stack.pop()
            if level > deepest:
                deepest = level
                if level > CAPS.maxDepth:
                    raise LimitError(problem("maxDepth", f"at least {level}", CAPS.maxDepth, True),
                                     node.start_mark.line + 1 if node.start_mark else None)
            for child in _children(node):
                key = id(child)
                if key in seen:
                    raise _Shared
                seen.add(key)
                if type(child) is not ScalarNode:
                    stack.append((child, level + 1))
    except _Shared:
        _measure_shared(root, measure)
        return
    measure.depth = max(measure.depth, deepest)


class _Shared(Exception):
    """A node reached twice: the document uses aliases."""


def _measure_shared(root: Node, measure: Measure) -> None:
    """The general walk, for documents with aliases (shared nodes).

    Iterative post-order walk over distinct nodes: ``size`` is the node count
    of the fully expanded subtree, so ``size(root) - distinct nodes`` is what
    the aliases add.  A node met again while it is still open is an alias of
    its own ancestor (``&a [*a]``): an infinite structure, refused.
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            children = list(_children(node))
            size[key] = 1 + sum(size[id(c)] for c in children)
            is_collection = isinstance(node, (SequenceNode, MappingNode))
            depth[key] = int(is_collection) + max((depth[id(c)] for c in children), default=0)
            open_nodes.discard(key)
            if depth[key] > CAPS.maxDepth:
                raise LimitError(problem("maxDepth", f"at least {depth[key]}", CAPS.maxDepth, True),
                                 node.start_mark.line + 1 if node.start_mark else None)
            continue
        if key in size:
            continue
        if key in open_nodes:
            raise LimitError("a YAML alias refers to its own ancestor (a recursive structure has no end)",
                             node.start_mark.line + 1 if node.start_mark else None)
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in size)
    measure.depth = max(measure.depth, depth[id(root)])
    measure.aliases += size[id(root)] - len(size)
    if measure.aliases > CAPS.maxAliases:
        raise LimitError(problem("maxAliases", measure.aliases, CAPS.maxAliases, True))


def measure_data(data: Any, measure: Measure) -> None:
    """Depth of plain data (JSON input, which has no aliases); raises at the cap."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    deepest = 0
    while stack:
        value, level = stack.pop()
        if isinstance(value, (dict, list)):
            deepest = max(deepest, level)
            if level > CAPS.maxDepth:
                raise LimitError(problem("maxDepth", f"at least {level}", CAPS.maxDepth, True))
            stack.extend((v, level + 1) for v in (value.values() if isinstance(value, dict) else value))
    measure.depth = max(measure.depth, deepest)


def exceeded(measure: Measure, limits: Limits) -> list[tuple[str, str]]:
    """(field, message) for every limit the measured input crosses."""
    out = []
    for field in FIELDS:
        value, limit = measure.value(field), getattr(limits, field)
        if field == "maxInputBytes" and _env_bytes() is not None:
            limit = max(limit, input_cap())  # the operator's bound also lifts the default
        if value > limit:
            out.append((field, problem(field, value, limit, False)))
    return out
