"""Infer stage: each node's output shape, parameter count and MACs, by formula, without torch."""
from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import NetspecError
from .registry import INT_DTYPES, MAX_INT, Args, ShapeError, Tensor, fmt
from .resolve import Node

MAX_VALUES = 2**40  # values in one sample's output: 4 TiB of float32, beyond any machine


@dataclass(frozen=True)
class LayerInfo:
    """What the checker knows about one built layer."""

    node: Node
    args: dict  # every argument, inferred ones filled in: what the builder passes to torch
    output: Tensor
    params: int
    macs: int
    inner_bytes: int = 0  # activations inside the layer beyond its output

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
        infos.append(_infer_one(node, inputs, nodes))
    return infos


def _source(index: int, nodes: list[Node]) -> str:
    """Where an input comes from, in words: "`stem` (Conv2d)" or "the model input"."""
    if index < 0:
        return "the model input"
    return f"`{nodes[index].name}` ({nodes[index].layer.name})"


def _infer_one(node: Node, inputs: list[Tensor], nodes: list[Node]) -> LayerInfo:
    lt = node.layer
    args = Args(lt.name, lt.defaults() | node.given)
    try:
        if any(t.dtype in INT_DTYPES for t in inputs) and not lt.accepts_int:
            raise ShapeError(f"{lt.name} needs floating-point input, but its input holds integers "
                             f"({inputs[0].dtype}, e.g. token ids)",
                             ["put an Embedding before it for token ids; for images or other numbers, leave "
                              "`dtype` out of model.input (float32 is the default)"])
        out = lt.rule(args, *inputs)
        if min(out.shape, default=1) < 1:
            raise ShapeError(f"{lt.name} would produce an empty output {fmt(out.shape)}")
        if max(out.shape, default=1) > MAX_INT or math.prod(out.shape) > MAX_VALUES:
            raise ShapeError(f"{lt.name} would produce an output {fmt(out.shape)} too large: netspec "
                             f"allows at most {MAX_INT:,} in one dimension (many torch layers count in 32 bits) "
                             f"and {MAX_VALUES:,} values per sample",
                             ["make the input or this layer's sizes smaller"])
    except ShapeError as e:
        message = e.message.format(**{f"in{k}": _source(j, nodes) for k, j in enumerate(node.inputs)}) \
            if e.inputs else e.message
        raise NetspecError(node.problem(message, e.hints, e.arg, e.at_key)) from None
    return LayerInfo(node, dict(args), Tensor(out.shape, out.dtype or inputs[0].dtype), out.params, out.macs,
                     out.inner_bytes)
