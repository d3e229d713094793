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


MULTI_OUTPUT = {"Chunk": "chunks", "Split": "split_size_or_sections"}  # layers whose entry gives several outputs


def spec_params(data: dict) -> dict:
    """The spec's own params (top-level `params:`), with the values of the chosen scale (`scale:`, or the
    first of `scales:`): what every block sees besides its own params."""
    params = dict(data.get("params") or {})
    scales = data.get("scales") or {}
    chosen = data.get("scale")
    if chosen is not None and chosen not in scales:
        hints = did_you_mean(str(chosen), scales) or (
            (_("the spec's scales: {scales}", scales=", ".join(scales)),) if scales else
            (_("add `scales:`, a mapping from each scale's name to the params it sets"),))
        raise NetspecError(Problem(_("scale `{scale}` is not one of the spec's scales", scale=chosen), ("scale",),
                                   hints))
    for name, values in scales.items():
        for key in values:
            if key not in params:
                raise NetspecError(Problem(
                    _("scale `{scale}` sets `{param}`, which is not one of the spec's params", scale=name, param=key),
                    ("scales", name, key), did_you_mean(key, params) or (
                        _("add it to `params:` with its default value"),), at_key=True))
    if scales:
        params |= scales[chosen if chosen is not None else next(iter(scales))]
    return params


def resolve(data: dict) -> list[Node]:
    """The model's layers in order: short forms expanded, `repeat` unrolled, blocks expanded, `from` wired."""
    r = _Resolver(data.get("blocks") or {}, spec_params(data))
    r.scope(data["model"]["layers"], ("model", "layers"), "", -1, (), None)
    r.check_consumed()
    return r.nodes


class _Resolver:
    def __init__(self, blocks: dict, spec_params: dict):
        self.blocks, self.nodes, self.spec_params = blocks, [], spec_params
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
            inputs = self.inputs(meta.get("from"), i, outputs, local, declared, first_input, path, origin,
                                 layers()[kind].inputs[1] if kind in layers() else 1)
            ins = inputs
            parts = self.parts(kind, given, path, args_path, repeat, origin)
            copies = []
            for copy in range(repeat):  # each copy takes the one before
                name = self.name(kind, meta, copy, prefix, path, origin)
                if kind in self.blocks:
                    last = self.use_block(kind, given, ins, path, name, stack, origin)
                elif parts:  # one node per output: `name.0`, `name.1`, ...
                    last = tuple(self.layer(kind, given | {"index": k}, ins, path, args_path, f"{name}.{k}", origin,
                                            stack) for k in range(parts))
                else:
                    last = self.layer(kind, given, ins, path, args_path, name, origin, stack)
                ins = (last,)
                copies.append(last)
                if "name" in meta and repeat > 1:  # the copies' own names, as the shape table shows them
                    local[f"{meta['name']}_{copy + 1}"] = last
            outputs.append(last)
            if "name" in meta:
                local[meta["name"]] = last
                local[meta["name"] + ".*"] = tuple(copies) if repeat > 1 else last
        if isinstance(outputs[-1], tuple):
            self.fail(_("the list ends with {layer}, which gives several outputs; a list's output is one tensor",
                        layer=_split(entries[-1], base)[0]), base + (len(entries) - 1,),
                      (_("join them with a Concat after it, e.g. `{line}`", line="- Concat: {dim: 1}"),), origin)
        return outputs[-1]

    def parts(self, kind: str, given: dict, path: Path, args_path, repeat: int, origin) -> int:
        """How many outputs an entry of a multi-output layer gives (0 for every other entry)."""
        if kind not in MULTI_OUTPUT or given.get("index") is not None:
            return 0
        arg = MULTI_OUTPUT[kind]
        value = given.get(arg)
        if repeat > 1:
            self.fail(_("{layer} cannot be repeated: it gives several outputs, and the next copy takes one",
                        layer=kind), path + ("repeat",), (_("remove `repeat`"),), origin)
        if kind == "Split" and not isinstance(value, list):
            where, example = args_path + (arg,) if args_path else path + (kind,), arg + ": [32, 32]"
            self.fail(_("Split needs its sizes as a list here, e.g. `{example}`: the number of outputs must be "
                        "known from the spec", example=example), where,
                      (_("or use Chunk to cut into a number of equal parts"),), origin)
        return len(value) if isinstance(value, list) else value if isinstance(value, int) else 0

    def check_args(self, kind: str, value, path: Path, origin: Path) -> None:
        """A block's entry, params substituted, against its layer's schema."""
        from .validate import entry_problems

        problems = entry_problems(kind, value, path)
        if problems:
            p = problems[0]
            note = Problem(_defined_in(path[1]), p.path, at_key=p.at_key)
            raise NetspecError(Problem(p.message, origin, p.hints, notes=(note,)))

    def inputs(self, refs, i: int, outputs: list, local: dict, declared: dict, first: int, path, origin,
               most: int = 1):
        """The nodes an entry reads: `from` names (`y.0`: one output of a Chunk or Split; `m.*`: all of a
        repeated entry's copies or of a Chunk's outputs) and negative offsets, or the entry before it."""
        if refs is None:
            before = outputs[-1] if outputs else first
            if isinstance(before, tuple) and most == 1:
                name = next((n for n, v in local.items() if v == before and not n.endswith(".*")), None)
                line = "from: " + str(name) + ".0"
                hint = _("add e.g. `{line}` (0 is the first output)", line=line) if name else \
                    _("give the entry before a name, e.g. `{line}`, and take one of its outputs here with `{line2}`",
                      line="name: y", line2="from: y.0")
                self.fail(_("the entry before this one gives {count} outputs; say which one this entry takes",
                            count=len(before)), path, (hint,), origin)
            return before if isinstance(before, tuple) else (before,)
        found = []
        for k, ref in enumerate(refs if isinstance(refs, list) else [refs]):
            where = path + (("from", k) if isinstance(refs, list) else ("from",))
            if isinstance(ref, int):
                if i + ref < -1:
                    self.fail(_("from: {offset} reaches {back} entries back, but this is entry {number} of its list",
                                offset=ref, back=-ref, number=i + 1),
                              where, (_("-1 is the entry just before; `input` is what the list starts from"),), origin)
                found.append(outputs[i + ref] if i + ref >= 0 else first)
                continue
            base, dot, part = ref.partition(".")
            if base in local and dot:
                value = local[ref] if part == "*" and ref in local else local[base]
                if part == "*":
                    found.append(value)
                elif not isinstance(value, tuple) or not part.isdigit():
                    self.fail(_("from: `{ref}` names one output of `{name}`, but `{name}` gives one output",
                                ref=ref, name=base), where,
                              (_("write `{name}`", name=base),), origin)
                elif int(part) >= len(value):
                    self.fail(_("from: `{ref}`: `{name}` gives {count} outputs, numbered from 0 to {last}", ref=ref,
                                name=base, count=len(value), last=len(value) - 1), where,
                              (_("use a number from 0 to {last}", last=len(value) - 1),), origin)
                else:
                    found.append(value[int(part)])
            elif ref in local:
                found.append(local[ref])
            elif base in declared:
                self.fail(_("from: `{name}` is defined below this entry (entry {number}); an entry can only "
                            "take the outputs of entries above it", name=base, number=declared[base] + 1), where,
                          (_("move the entry, or name another one"),), origin)
            else:
                self.fail(_("from: there is no entry named `{name}` before this one", name=base), where,
                          did_you_mean(base, [n for n in local if "." not in n]) or
                          (_("give the entry you mean a `name:`"),), origin)
        return tuple(j for f in found for j in (f if isinstance(f, tuple) else (f,)))

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
        """A block use's params: the use's values, else the defaults (a default may be a `$(expr)` over the
        spec's params and the params before it), with the spec's params around them."""
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
        scope = dict(self.spec_params)
        for key, value in values.items():
            if key not in args and isinstance(value, str) and value.startswith("$"):
                try:
                    value = substitute(value, scope, ("blocks", kind, "params", key))
                except ParamError as e:
                    note = Problem(_("in block `{block}`, defined here", block=kind), e.path)
                    raise NetspecError(Problem(e.message, origin or path, e.hints, notes=(note,))) from None
            scope[key] = value
        return scope

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
