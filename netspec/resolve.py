"""Resolve stage: layer entries become a list of nodes, one per layer: short forms, repeat, blocks, from."""
from __future__ import annotations

from dataclasses import dataclass, field

from .errors import NetspecError, Path, Problem, did_you_mean
from .i18n import _
from .params import ParamError, substitute
from .registry import LayerType, Tensor, layers
from .schema import META_KEYS


MAX_LAYERS = 100_000  # expanded layers: far beyond any real network, and still checked in seconds

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
    name: str  # unique; dotted inside a block use: `layer1.conv2d_1`
    layer: LayerType
    given: dict  # the arguments written in the spec (a short form's scalar under its name)
    path: Path  # the entry's spec path (inside `blocks:` for a block's entry)
    args_path: Path | None = None  # the argument mapping's spec path, when written as one
    inputs: tuple[int, ...] = field(default=())  # indices of the nodes it reads; -1 is the model input
    origin: Path | None = None  # for an entry of a block: where (in model.layers) the block is used
    blocks: tuple[str, ...] = ()  # the blocks it sits in, outermost first (one per dot of its name)

    def arg_path(self, arg: str | None) -> Path:
        """Where an argument is written: in the mapping, as a short form's scalar, or (left out) the entry."""
        if arg is None or arg not in self.given:
            return self.path
        if self.args_path is not None:
            return self.args_path + (arg,)
        return self.path + (self.layer.name,)  # `- MaxPool2d: 2` sets the main argument

    def problem(self, message: str, hints=(), arg: str | None = None, at_key: bool = False) -> Problem:
        """A problem with this layer, located where the spec uses it (and, in a block, where it is defined)."""
        if self.origin is None:
            return Problem(message, self.arg_path(arg), tuple(hints), at_key=at_key)
        note = Problem(_defined_in(self.path[1]), self.arg_path(arg), at_key=at_key)
        return Problem(message, self.origin, tuple(hints), notes=(note,))


def _defined_in(block: str):
    return _("the entry is defined here, in block `{block}`", block=block)


def model_input(data: dict) -> Tensor:
    """model.input as a Tensor: `[3, 32, 32]` or `{shape: [100], dtype: int64}`."""
    spec = data["model"]["input"]
    if isinstance(spec, dict):
        return Tensor(tuple(spec["shape"]), spec.get("dtype", "float32"))
    return Tensor(tuple(spec))


def resolve(data: dict) -> list[Node]:
    """The model's layers in order: short forms expanded, `repeat` unrolled, blocks expanded, `from` wired."""
    r = _Resolver(data.get("blocks") or {})
    r.scope(data["model"]["layers"], ("model", "layers"), "", -1, (), None)
    r.check_consumed()
    return r.nodes


class _Resolver:
    def __init__(self, blocks: dict):
        self.blocks, self.nodes = blocks, []
        self.counts: dict[tuple[str, str], int] = {}
        self.taken: dict[str, str] = {}  # name -> what netspec made it for ("" if the spec wrote it)

    def fail(self, message: str, path: Path, hints=(), origin: Path | None = None, at_key=False):
        if origin is None:
            raise NetspecError(Problem(message, path, tuple(hints), at_key=at_key))
        note = Problem(_defined_in(path[1]), path, at_key=at_key)
        raise NetspecError(Problem(message, origin, tuple(hints), notes=(note,)))

    def scope(self, entries: list, base: Path, prefix: str, first_input: int, stack: tuple, origin) -> int:
        """Resolve one layer list (the model's, or one use of a block); returns its output node."""
        declared = {e["name"]: i for i, e in enumerate(entries) if isinstance(e, dict) and "name" in e}
        local: dict[str, int] = {"input": first_input}
        outputs: list[int] = []
        for i, entry in enumerate(entries):
            path = base + (i,)
            kind, given, args_path, meta = _split(entry, path)
            if origin is not None and kind in layers() and isinstance(entry, dict):
                self.check_args(kind, entry[kind], path + (kind,), origin)
            if kind in self.blocks and isinstance(entry, dict) and not isinstance(entry[kind], (dict, type(None))):
                param = next(iter(self.blocks[kind].get("params") or {"p": 0}))
                line = f"- {kind}: {{{param}: ...}}"
                self.fail(_("block `{block}` takes its params as a mapping", block=kind), path + (kind,),
                          (_("write e.g. `{line}`", line=line),), origin)
            repeat = meta.get("repeat", 1)  # in a block, a param's value: checked here
            if not isinstance(repeat, int) or isinstance(repeat, bool) or repeat < 1:
                self.fail(_("repeat must be a whole number, 1 or more, but with this use's params it is {value}",
                            value=repr(repeat)),
                          path + ("repeat",), (_("give the block params that make it 1 or more where it is used"),),
                          origin)
            if kind in layers() and layers()[kind].inputs[0] > 1:  # a merge
                if "from" not in meta:
                    self.fail(_("{layer} joins the outputs of several entries, but it has no `from:` naming them",
                                layer=kind), path,
                              (_("name them, e.g. `{line}` beside `{layer}`", line="from: [stem, -1]", layer=kind),),
                              origin)
                if repeat > 1:
                    self.fail(_("{layer} cannot be repeated: each copy after the first would take only the copy "
                                "before it, one input", layer=kind), path + ("repeat",),
                              (_("remove `repeat`; to repeat a skip connection, put it in a block and repeat the "
                                 "block"),), origin)
            inputs = self.inputs(meta.get("from"), i, outputs, local, declared, first_input, path, origin)
            ins = inputs
            for copy in range(repeat):  # each copy takes the one before
                name = self.name(kind, meta, copy, prefix, path, origin)
                if kind in self.blocks:
                    last = self.use_block(kind, given, ins, path, name, stack, origin)
                else:
                    last = self.layer(kind, given, ins, path, args_path, name, origin, stack)
                ins = (last,)
                if "name" in meta and repeat > 1:  # the copies' own names, as the shape table shows them
                    local[f"{meta['name']}_{copy + 1}"] = last
            outputs.append(last)
            if "name" in meta:
                local[meta["name"]] = last
        return outputs[-1]

    def check_args(self, kind: str, value, path: Path, origin: Path) -> None:
        """A block's entry, params substituted, against its layer's schema."""
        from .validate import entry_problems

        problems = entry_problems(kind, value, path)
        if problems:
            p = problems[0]
            note = Problem(_defined_in(path[1]), p.path, at_key=p.at_key)
            raise NetspecError(Problem(p.message, origin, p.hints, notes=(note,)))

    def inputs(self, refs, i: int, outputs: list[int], local: dict, declared: dict, first: int, path, origin):
        """The nodes an entry reads: `from` names and negative offsets, or the entry before it."""
        if refs is None:
            return (outputs[-1] if outputs else first,)
        found = []
        for k, ref in enumerate(refs if isinstance(refs, list) else [refs]):
            where = path + (("from", k) if isinstance(refs, list) else ("from",))
            if isinstance(ref, int):
                if i + ref < -1:
                    self.fail(_("from: {offset} reaches {back} entries back, but this is entry {number} of its list",
                                offset=ref, back=-ref, number=i + 1),
                              where, (_("-1 is the entry just before; `input` is what the list starts from"),), origin)
                found.append(outputs[i + ref] if i + ref >= 0 else first)
            elif ref in local:
                found.append(local[ref])
            elif ref in declared:
                self.fail(_("from: `{name}` is defined below this entry (entry {number}); an entry can only "
                            "take the outputs of entries above it", name=ref, number=declared[ref] + 1), where,
                          (_("move the entry, or name another one"),), origin)
            else:
                self.fail(_("from: there is no entry named `{name}` before this one", name=ref), where,
                          did_you_mean(ref, list(local)) or (_("give the entry you mean a `name:`"),), origin)
        return tuple(found)

    def name(self, kind: str, meta: dict, copy: int, prefix: str, path: Path, origin) -> str:
        if "name" in meta:
            given = meta["name"]
            if given in RESERVED_NAMES or given == "input":
                self.fail(_("`{name}` cannot be a layer's name: `from: input` means the list's input", name=given)
                          if given == "input" else _("`{name}` cannot be a layer's name: PyTorch uses it", name=given),
                          path + ("name",), (_("choose another name, e.g. {example}", example=given + "_1"),), origin)
            local = given if meta.get("repeat", 1) == 1 else f"{given}_{copy + 1}"
            if prefix + local in self.taken:
                made_for = self.taken[prefix + local]
                self.fail(_("the name `{name}` is used twice", name=local) if not made_for else
                          _("the name `{name}` is taken: netspec gave it to {owner}", name=local, owner=made_for),
                          path + ("name",), (_("give each entry its own name"),) if not made_for else
                          (_("choose another name"),), origin)
        else:
            while True:
                key = (prefix, kind)
                self.counts[key] = self.counts.get(key, 0) + 1
                local = f"{kind.lower().replace('.', '_')}_{self.counts[key]}"
                if prefix + local not in self.taken:
                    break
        self.taken[prefix + local] = (_("an earlier {layer} entry", layer=kind) if "name" not in meta
                                      else "" if local == meta["name"]
                                      else _("copy {number} of the repeated `{name}`", number=copy + 1,
                                             name=meta["name"]))
        return prefix + local

    def layer(self, kind: str, given: dict, inputs: tuple, path: Path, args_path, name: str, origin,
              stack: tuple) -> int:
        if len(self.nodes) >= MAX_LAYERS:
            self.fail(_("the model would have more than {limit:,} layers (repeat and blocks expanded)",
                        limit=MAX_LAYERS), path, (_("lower `repeat`, or use fewer blocks"),), origin)
        lt = layers()[kind]
        low, high = lt.inputs
        if lt.inputs == (1, 2) and len(inputs) == 1:
            inputs = inputs * 2  # Bilinear given one input takes it as both
        if not low <= len(inputs) <= high:
            message = _("{layer} takes one input, but `from` names {count}", layer=kind, count=len(inputs)) \
                if high == 1 else _("{layer} takes at least {low} inputs, but `from` names {count}", layer=kind,
                                    low=low, count=len(inputs))
            self.fail(message, path,
                      (_("a merge (Add, Mul, Concat) joins several entries: e.g. `{line}`", line="from: [stem, -1]"),)
                      if low > 1 else (_("to join several entries, put an Add or Concat first"),), origin)
        node = Node(len(self.nodes), name, lt, given, path, args_path, inputs, origin, stack)
        self.nodes.append(node)
        return node.index

    def use_block(self, kind: str, args: dict, inputs: tuple, path: Path, name: str, stack: tuple, origin) -> int:
        """A copy of a block's layers, params substituted, names local to this use."""
        at = origin or path
        if kind in stack:
            chain = " -> ".join(stack + (kind,))
            self.fail(_("block `{block}` uses itself ({chain})", block=kind, chain=chain), path,
                      (_("a block may not contain itself"),), origin)
        if len(inputs) != 1:
            self.fail(_("a block takes one input, but `from` names {count}", count=len(inputs)), path,
                      (_("join them first with Add or Concat"),), origin)
        block = self.blocks[kind]
        params = self.params(kind, block.get("params") or {}, args, path, origin)
        base = ("blocks", kind, "layers")
        try:
            entries = substitute(block["layers"], params, base)
        except ParamError as e:
            note = Problem(_("in block `{block}`, defined here", block=kind), e.path)
            raise NetspecError(Problem(e.message, at, e.hints, notes=(note,))) from None
        return self.scope(entries, base, name + ".", inputs[0], stack + (kind,), at)

    def params(self, kind: str, defaults: dict, args: dict, path: Path, origin) -> dict:
        unknown = [k for k in args if k not in defaults]
        if unknown:
            self.fail(_("block `{block}` has no param `{param}`", block=kind, param=unknown[0]),
                      path + (kind, unknown[0]),
                      did_you_mean(unknown[0], defaults) or (_("its params: {params}",
                                                               params=", ".join(defaults) or _("none")),),
                      origin, at_key=True)
        values = defaults | args
        missing = [k for k, v in values.items() if v is None]
        if missing:
            line = f"- {kind}: {{{missing[0]}: ...}}"
            self.fail(_("block `{block}` needs a value for its param `{param}` (it has no default)", block=kind,
                        param=missing[0]), path, (_("write it as `{line}`", line=line),), origin)
        return values

    def check_consumed(self) -> None:
        """Every layer's output must go somewhere: to a later layer, or out of the model."""
        used = {j for node in self.nodes for j in node.inputs}
        for node in self.nodes[:-1]:
            if node.index not in used:
                raise NetspecError(node.problem(
                    _("the output of `{name}` ({layer}) is never used: no later entry takes it", name=node.name,
                      layer=node.layer.name),
                    (_("name it in a later entry's `from:`, or remove the entry"),)))


def _split(entry, path: Path) -> tuple[str, dict, Path | None, dict]:
    """(layer or block name, given arguments, path of the argument mapping, meta keys) of one entry."""
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
