"""Infer stage: each node's output shape, parameter count and MACs, by formula, without torch."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from .errors import NetspecError
from .i18n import Msg, _
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
        return _("the model input")
    return _("`{name}` ({layer})", name=nodes[index].name, layer=nodes[index].layer.name)


def _with_sources(message: str, node: Node, nodes: list[Node]) -> str:
    """A ShapeError message that names its inputs as {in0}, {in1}, ...: each filled with where it comes from.

    A Msg is rebuilt from its id, the layer's own fields kept, so that it stays translatable."""
    sources = {f"{{in{k}}}": _source(j, nodes) for k, j in enumerate(node.inputs)}
    if isinstance(message, Msg):
        return Msg(message.id, **{k: sources.get(v, v) if isinstance(v, str) else v for k, v in message.args.items()})
    return message.format(**{k.strip("{}"): v for k, v in sources.items()})


def _infer_one(node: Node, inputs: list[Tensor], nodes: list[Node]) -> LayerInfo:
    lt = node.layer
    args = Args(lt.name, lt.defaults() | node.given)
    try:
        if any(t.dtype in INT_DTYPES for t in inputs) and not lt.accepts_int:
            raise ShapeError(_("{layer} needs floating-point input, but its input holds integers "
                               "({dtype}, e.g. token ids)", layer=lt.name, dtype=inputs[0].dtype),
                             [_("put an {embedding} before it for token ids; for images or other numbers, leave "
                                "`dtype` out of {key} ({default} is the default)", embedding="Embedding",
                                key="model.input", default="float32")])
        out = lt.rule(args, *inputs)
        if min(out.shape, default=1) < 1:
            raise ShapeError(_("{layer} would produce an empty output {shape}", layer=lt.name, shape=fmt(out.shape)))
        if max(out.shape, default=1) > MAX_INT or math.prod(out.shape) > MAX_VALUES:
            raise ShapeError(_("{layer} would produce an output {shape} too large: netspec allows at most "
                               "{max_size:,} in one dimension (many torch layers count in 32 bits) and "
                               "{max_values:,} values per sample", layer=lt.name, shape=fmt(out.shape),
                               max_size=MAX_INT, max_values=MAX_VALUES),
                             [_("make the input or this layer's sizes smaller")])
    except ShapeError as e:
        message = _with_sources(e.message, node, nodes) if e.inputs else e.message
        problem = node.problem(message, e.hints, e.arg, e.at_key)
        if e.fix is not None and node.origin is None:  # not inside a block, which other uses share
            where = node.path if e.fix.how in ("insert", "delete") else \
                node.path + (lt.name,) if e.fix.how == "rename" else node.arg_path(e.arg)
            problem = replace(problem, fix=replace(e.fix, path=where))
        raise NetspecError(problem) from None
    return LayerInfo(node, dict(args), Tensor(out.shape, out.dtype or inputs[0].dtype), out.params, out.macs,
                     out.inner_bytes)
