"""Resolve stage: layer entries in their short forms become a list of nodes, one per layer."""
from __future__ import annotations

from dataclasses import dataclass, field

from .errors import NetspecError, Path, Problem
from .registry import LayerType, Tensor, layers
from .schema import META_KEYS


# Attribute names of torch.nn.Module: a submodule cannot take them (a test keeps this list complete).
RESERVED_NAMES = frozenset("""
    T_destination add_module apply bfloat16 buffers call_super_init children compile cpu cuda double
    dump_patches eval extra_repr float forward get_buffer get_extra_state get_parameter get_submodule half
    ipu load_state_dict modules mtia named_buffers named_children named_modules named_parameters parameters
    register_backward_hook register_buffer register_forward_hook register_forward_pre_hook
    register_full_backward_hook register_full_backward_pre_hook register_load_state_dict_post_hook
    register_load_state_dict_pre_hook register_module register_parameter register_state_dict_post_hook
    register_state_dict_pre_hook requires_grad_ set_extra_state set_submodule share_memory state_dict to
    to_empty train training type xpu zero_grad""".split())


@dataclass(frozen=True)
class Node:
    """One layer of the network, as the spec asks for it."""

    index: int
    name: str
    layer: LayerType
    given: dict  # the arguments written in the spec (a short form's scalar under its name)
    path: Path  # the entry's spec path
    args_path: Path | None = None  # the argument mapping's spec path, when written as one
    inputs: tuple[int, ...] = field(default=())  # indices of the nodes it reads; -1 is the model input

    def arg_path(self, arg: str | None) -> Path:
        """Where an argument is written: in the mapping, as a short form's scalar, or (left out) the entry."""
        if arg is None or arg not in self.given:
            return self.path
        if self.args_path is not None:
            return self.args_path + (arg,)
        return self.path + (self.layer.name,)  # `- MaxPool2d: 2` sets the main argument


def model_input(data: dict) -> Tensor:
    """model.input as a Tensor: `[3, 32, 32]` or `{shape: [100], dtype: int64}`."""
    spec = data["model"]["input"]
    if isinstance(spec, dict):
        return Tensor(tuple(spec["shape"]), spec.get("dtype", "float32"))
    return Tensor(tuple(spec))


def resolve(data: dict) -> list[Node]:
    """The model's layers, short forms expanded and `repeat` unrolled, in order."""
    nodes: list[Node] = []
    counts: dict[str, int] = {}
    taken: set[str] = set()
    for i, entry in enumerate(data["model"]["layers"]):
        path = ("model", "layers", i)
        name, given, args_path, meta = _split(entry, path)
        lt = layers().get(name)
        if lt is None:
            raise NetspecError(Problem(f"`{name}` is a block; blocks are not supported by this netspec version",
                                       path, ("write the block's layers out in model.layers",)))
        if "from" in meta:
            raise NetspecError(Problem("`from` (wiring a layer to an earlier one) is not supported by this "
                                       "netspec version", path + ("from",), ("remove `from`",), at_key=True))
        repeat = meta.get("repeat", 1)
        for copy in range(repeat):
            if "name" in meta:
                if meta["name"] in RESERVED_NAMES:
                    raise NetspecError(Problem(f"`{meta['name']}` cannot be a layer's name: PyTorch uses it",
                                               path + ("name",), (f"choose another name, e.g. {meta['name']}_1",)))
                node_name = meta["name"] if repeat == 1 else f"{meta['name']}_{copy + 1}"
                if node_name in taken:
                    raise NetspecError(Problem(f"the name `{meta['name']}` is used twice", path + ("name",),
                                               ("give each entry its own name",)))
            else:
                node_name = _auto_name(lt.name, counts, taken)
            taken.add(node_name)
            # a layer of two inputs (Bilinear) given one takes it as both
            inputs = (len(nodes) - 1,) * lt.inputs[1] if lt.inputs == (1, 2) else (len(nodes) - 1,)
            nodes.append(Node(len(nodes), node_name, lt, given, path, args_path, inputs))
    return nodes


def _split(entry, path: Path) -> tuple[str, dict, Path | None, dict]:
    """(layer name, given arguments, path of the argument mapping, meta keys) of one entry."""
    if isinstance(entry, str):
        return entry, {}, None, {}
    meta = {k: v for k, v in entry.items() if k in META_KEYS}
    name = next(k for k in entry if k not in META_KEYS)
    value = entry[name]
    if isinstance(value, dict):
        return name, dict(value), path + (name,), meta
    lt = layers().get(name)
    given = {} if value is None or lt is None else {lt.main: value}
    return name, given, None, meta


def _auto_name(kind: str, counts: dict[str, int], taken: set[str]) -> str:
    """conv2d_1, conv2d_2, relu_1, ...: readable submodule names, never clashing with given ones."""
    while True:
        counts[kind] = counts.get(kind, 0) + 1
        name = f"{kind.lower()}_{counts[kind]}"
        if name not in taken:
            return name
