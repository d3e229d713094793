"""Infer stage: each node's output shape, parameter count and MACs, by formula, without torch."""
from __future__ import annotations

from dataclasses import dataclass

from .errors import NetspecError, Problem
from .registry import INT_DTYPES, Args, ShapeError, Tensor, fmt
from .resolve import Node


@dataclass(frozen=True)
class LayerInfo:
    """What the checker knows about one built layer."""

    node: Node
    args: dict  # every argument, inferred ones filled in: what the builder passes to torch
    output: Tensor
    params: int
    macs: int

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def type(self) -> str:
        return self.node.layer.name


def infer(nodes: list[Node], x: Tensor) -> list[LayerInfo]:
    """Run the shape rules in order; the first impossible shape stops with a located Problem."""
    infos: list[LayerInfo] = []
    for node in nodes:
        inputs = [x if i < 0 else infos[i].output for i in node.inputs]
        infos.append(_infer_one(node, inputs))
    return infos


def _infer_one(node: Node, inputs: list[Tensor]) -> LayerInfo:
    lt = node.layer
    args = Args(lt.name, lt.defaults() | node.given)
    try:
        if any(t.dtype in INT_DTYPES for t in inputs) and not lt.accepts_int:
            raise ShapeError(f"{lt.name} needs floating-point input, but its input holds integers "
                             f"({inputs[0].dtype}, e.g. token ids)", ["put an Embedding before it"])
        out = lt.rule(args, *inputs)
        if min(out.shape, default=1) < 1:
            raise ShapeError(f"{lt.name} would produce an empty output {fmt(out.shape)}")
    except ShapeError as e:
        raise NetspecError(Problem(e.message, node.arg_path(e.arg), e.hints)) from None
    return LayerInfo(node, dict(args), Tensor(out.shape, out.dtype or inputs[0].dtype), out.params, out.macs)
