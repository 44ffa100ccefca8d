"""Matching the nodes of two runs, the way replay matches a resumed run to its source.

A node of run B matches a node of run A when their parents matched (or both are
top-level requests), they have the same node type and the same canonical inputs,
and it is the k-th such call under that parent in both runs — so parallel calls
match whatever order they finished in. Calls left over under a matched parent are
then paired by type, in order: those are the calls whose inputs changed, which is
what a `from_state(..., rerun=...)` or an edited workflow shows. Anything still left
is only in A or only in B.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from ..state import ExecutionInfo
from ..state.records import NodeInfo

__all__ = ["match_runs"]


def _canonical(node: NodeInfo) -> str:
    return json.dumps([list(node.args), node.kwargs], sort_keys=True, default=repr)


def _children(info: ExecutionInfo) -> dict[int | None, list[NodeInfo]]:
    kids: dict[int | None, list[NodeInfo]] = defaultdict(list)
    for node in info.nodes:  # in start order: the k-th call stays the k-th
        kids[node.parent_id].append(node)
    return kids


def match_runs(a: ExecutionInfo, b: ExecutionInfo) -> list[dict[str, Any]]:
    """Pairs of matched nodes, `{"a": id | None, "b": id | None, "changed": [...]}`.

    `changed` names what differs: "inputs", "output", "status", "error", "latency"
    (latency when one took over 1.5 times as long as the other and 5 ms more: less is noise).
    Pairs come parents first, in run A's order, with B's extra calls after.
    """
    kids_a, kids_b = _children(a), _children(b)
    pairs: list[dict[str, Any]] = []
    todo: list[tuple[int | None, int | None]] = [(None, None)]
    while todo:
        parent_a, parent_b = todo.pop(0)
        for left, right in _pair(kids_a.get(parent_a, []), kids_b.get(parent_b, [])):
            pairs.append(
                {
                    "a": None if left is None else left.id,
                    "b": None if right is None else right.id,
                    "changed": _changes(left, right),
                }
            )
            if left is not None and right is not None:
                todo.append((left.id, right.id))
            elif left is not None:
                pairs.extend(_alone(kids_a, left.id, "a"))
            elif right is not None:
                pairs.extend(_alone(kids_b, right.id, "b"))
    return pairs


def _pair(
    left: list[NodeInfo], right: list[NodeInfo]
) -> list[tuple[NodeInfo | None, NodeInfo | None]]:
    waiting: dict[tuple[str, str], list[NodeInfo]] = defaultdict(list)
    for node in right:
        waiting[(node.type_key, _canonical(node))].append(node)
    matched: dict[int, NodeInfo] = {}
    leftover_a = []
    for node in left:
        queue = waiting.get((node.type_key, _canonical(node)))
        if queue:
            matched[node.id] = queue.pop(0)
        else:
            leftover_a.append(node)
    used = {n.id for n in matched.values()}
    by_type: dict[str, list[NodeInfo]] = defaultdict(list)
    for node in right:
        if node.id not in used:
            by_type[node.type_key].append(node)
    for node in leftover_a:  # same place, same type, other inputs: a changed call
        queue = by_type.get(node.type_key)
        if queue:
            matched[node.id] = queue.pop(0)
    used = {n.id for n in matched.values()}
    out: list[tuple[NodeInfo | None, NodeInfo | None]] = [(n, matched.get(n.id)) for n in left]
    out.extend((None, n) for n in right if n.id not in used)
    return out


def _alone(kids: dict[int | None, list[NodeInfo]], root: int, side: str) -> list[dict[str, Any]]:
    other = "b" if side == "a" else "a"
    found: list[dict[str, Any]] = []
    stack = [root]
    while stack:
        for node in kids.get(stack.pop(), []):
            found.append({side: node.id, other: None, "changed": ["only"]})
            stack.append(node.id)
    return found


def _changes(left: NodeInfo | None, right: NodeInfo | None) -> list[str]:
    if left is None or right is None:
        return ["only"]
    changed = []
    if _canonical(left) != _canonical(right):
        changed.append("inputs")
    if json.dumps(left.output, sort_keys=True, default=repr) != json.dumps(
        right.output, sort_keys=True, default=repr
    ):
        changed.append("output")
    if left.status != right.status:
        changed.append("status")
    if (left.error is None) != (right.error is None) or (
        left.error is not None and right.error is not None and left.error.type != right.error.type
    ):
        changed.append("error")
    da, db = left.duration, right.duration
    if da is not None and db is not None:
        slow, fast = max(da, db), min(da, db)
        if slow - fast > 0.005 and slow > 1.5 * fast:
            changed.append("latency")
    return changed
