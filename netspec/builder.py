"""Build stage: checked layers become a torch.nn.Module. The only compiler stage that imports torch."""
from __future__ import annotations

import torch
from torch import nn

from .infer import LayerInfo
from .registry import Tensor


class Network(nn.Module):
    """The layers of a spec, run in order, each on the outputs its spec entry names.

    Submodules carry the spec's names (`conv2d_1`, or an entry's `name`), so
    `print(model)` and `state_dict()` read like the spec.
    """

    def __init__(self, layers: list[tuple[str, nn.Module, tuple[int, ...]]]):
        super().__init__()
        self._order: list[str] = []
        self._inputs: list[tuple[int, ...]] = []
        self._layers: list[nn.Module] = []  # in order; registered under their (dotted) names below
        for name, module, inputs in layers:
            self._place(name, module)
            self._layers.append(module)
            self._order.append(name)
            self._inputs.append(inputs)
        last_use: dict[int, int] = {}
        for i, inputs in enumerate(self._inputs):
            for j in inputs:
                last_use[j] = i
        # after layer i, the outputs nobody reads any more are dropped, so memory stays low
        self._free = [[j for j, last in last_use.items() if last == i] for i in range(len(self._inputs))]
        self._sequential = all(inputs == (i - 1,) for i, inputs in enumerate(self._inputs))

    def _place(self, name: str, module: nn.Module) -> None:
        """Register `module` at `name`; a block use's layers go into a container named after the use."""
        *groups, leaf = name.split(".")
        parent: nn.Module = self
        for group in groups:
            if group not in parent._modules:
                parent.add_module(group, nn.Module())
            parent = parent._modules[group]
        parent.add_module(leaf, module)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._sequential:
            for layer in self._layers:
                x = layer(x)
            return x
        outs: dict[int, torch.Tensor] = {-1: x}
        for i, layer in enumerate(self._layers):
            outs[i] = layer(*(outs[j] for j in self._inputs[i]))
            for j in self._free[i]:
                del outs[j]
        return outs[len(self._layers) - 1]


def build_layer(info: LayerInfo, in_place: bool = True) -> nn.Module:
    """One torch layer from its checked arguments (lists become tuples, as torch prefers)."""
    lt = info.node.layer
    if lt.module:
        from . import modules

        cls = getattr(modules, lt.module)
    else:
        cls = getattr(nn, lt.torch_class or lt.name)
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in info.args.items()}
    if not in_place and kwargs.get("inplace"):
        kwargs["inplace"] = False
    return cls(**kwargs)


# Layers whose backward pass does not read their own output, so that an in-place layer after one
# may overwrite it. After any other (an activation, softmax, a recurrent layer...) it runs out of place.
KEEP_NO_OUTPUT = frozenset({
    "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "Linear", "LazyLinear",
    "Bilinear", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "GroupNorm", "LayerNorm", "InstanceNorm1d",
    "InstanceNorm2d", "InstanceNorm3d", "Add", "Mul", "Concat", "AvgPool1d", "AvgPool2d", "AvgPool3d", "MaxPool1d",
    "MaxPool2d", "MaxPool3d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "Upsample", "Embedding",
})


def out_of_place(layers: list[LayerInfo]) -> set[int]:
    """The layers with `inplace: true` that must not write into their input, so are built without it.

    An in-place layer overwrites the memory of its input, which views of it share (Identity, Flatten,
    Dropout when testing). That is safe only when the memory was made by a layer whose backward pass
    does not need it (KEEP_NO_OUTPUT), and nothing else reads it: no layer before (which may have
    kept it for its own backward pass), and nothing after, unless it reads the overwritten values.
    The model's input is never written into: it is the caller's."""
    readers: dict[int, list[int]] = {}
    for k, info in enumerate(layers):
        for j in info.node.inputs:
            readers.setdefault(j, []).append(k)
    memory: dict[int, int] = {-1: -1}  # output -> the output whose memory it uses
    users: dict[int, list[int]] = {-1: [-1]}  # memory -> the outputs that use it
    refused = set()
    for i, info in enumerate(layers):
        inputs = info.node.inputs
        shared = memory[inputs[0]]
        writes = bool(info.args.get("inplace"))
        if writes:
            made_by = layers[shared].node.layer.name if shared >= 0 else None
            others = [k for j in users[shared] for k in readers.get(j, ()) if k != i]
            # torch has no backward pass for LeakyReLU, RReLU, ELU or CELU in place with a negative slope
            negative = min(info.args.get(k, 0) or 0 for k in ("negative_slope", "lower", "upper", "alpha")) < 0
            if made_by not in KEEP_NO_OUTPUT or negative or any(
                    k > i or not (layers[k].node.layer.views and not layers[k].args.get("inplace")) for k in others):
                refused.add(i)
                writes = False
        memory[i] = shared if len(inputs) == 1 and (writes or info.node.layer.views) else i
        users.setdefault(memory[i], []).append(i)
    return refused


def build_network(layers: list[LayerInfo], x: Tensor) -> Network:
    refused = out_of_place(layers)
    net = Network([(info.name, build_layer(info, i not in refused), info.node.inputs)
                   for i, info in enumerate(layers)])
    if x.dtype == "float64":
        net = net.double()
    return net
