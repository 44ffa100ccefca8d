"""Node types: the Node base class and function nodes (agent nodes live in nodes/agent.py)."""

from .base import ExecutionMode, Node, NodeSpec, node_kind, spec_of
from .function import FunctionNode, function_node

__all__ = [
    "ExecutionMode",
    "FunctionNode",
    "Node",
    "NodeSpec",
    "function_node",
    "node_kind",
    "spec_of",
]
