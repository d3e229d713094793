"""The editors' JSON Schema (draft 2020-12) of a whole spec: what `netspec schema` prints and
schemas/netspec.schema.json holds (a test fails when the two differ), made from the validation schema of
schema.py with the annotations and short forms editors need.
"""
from __future__ import annotations

import json

from .catalog import DATASETS, LOSSES, OPTIMIZERS, SCHEDULERS, TRANSFORMS
from .registry import REQUIRED, LayerType, layers
from .schema import _DATASET_ARGS, BLOCK_NAME, META_KEYS, validation_schema


def schema_json() -> str:
    return json.dumps(schema(), indent=2, ensure_ascii=False) + "\n"


def schema() -> dict:
    """The spec's JSON Schema as editors use it: the validation schema with layer entries as a `properties`
    map of layer names (so that names complete while typing and a misspelled one is flagged), the short
    forms that netspec accepts and no others, names of datasets, optimizers, losses, schedulers and
    transforms that complete, a title and a markdownDescription on every layer and argument, and values
    that are valid as an editor inserts them. Only standard keywords, and the editors' annotations
    `markdownDescription` and `title`: no `x-` keywords."""
    table = layers()
    out = _without_extensions(validation_schema())
    out["properties"].update(_editor_sections(out["properties"]))
    out["$defs"] = {"layer_entry": _editor_entry(table, block=False), "block_entry": _editor_entry(table, block=True),
                    "transform_entry": _editor_transform_entry(), **{n: _editor_layer(lt) for n, lt in table.items()}}
    return out


def _without_extensions(value):
    if isinstance(value, dict):
        return {k: _without_extensions(v) for k, v in value.items() if not k.startswith("x-")}
    if isinstance(value, list):
        return [_without_extensions(v) for v in value]
    return value


_SECTION_TEXT = {
    "netspec": "The version of the spec language: write `netspec: 1`.",
    "name": "The run's name: letters, digits, `.`, `_` and `-`. It names the run folder `runs/<name>`.",
    "description": "Any text, for people.",
    "silence": "Warnings not to show for this spec, by name.",
    "model": "The network: `input`, one sample's shape without the batch dimension, and `layers`.",
    "blocks": "Groups of layers with params, used like one layer: `- name: {param: value}`.",
    "data": "The dataset, its transforms and the batch sizes. Needed by `netspec train`.",
    "train": "How to train: epochs, optimizer, loss, scheduler, device, seed, precision...",
    "output": "Where the run folder goes (`dir`, default `runs`) and whether TensorBoard logs are written.",
}


_KEY_TEXT = {
    "model": {"input": "One sample's shape, without the batch dimension N: `[3, 32, 32]` for colour 32x32 "
                       "images (channels, height, width), or `{shape: [100], dtype: int64}` for token ids.",
              "layers": "The layers, in order: `- ReLU`, `- MaxPool2d: 2`, `- Conv2d: {out_channels: 6, "
                        "kernel_size: 5}`. Each takes the output of the entry before it unless `from` says otherwise."},
    "data": {"root": "The folder (or, for `npz`, the file) the dataset is read from.",
             "download": "Download a torchvision dataset into `root` when it is not there (default false).",
             "transform": "torchvision transforms for every image, training and testing: default `[ToTensor]`.",
             "augment": "torchvision transforms for training images only, before `transform`.",
             "predict_transform": "Transforms for `netspec predict` only, applied to a picture first "
                                  "(`[Invert]` for dark ink on light paper).",
             "batch_size": "Samples per training step (default 64).",
             "test_batch_size": "Samples per step when testing (default: batch_size).",
             "val_split": "The fraction of the training data held out for testing when there is no test set.",
             "num_workers": "Processes that load data beside training (default 0: none).",
             "memory_budget_mb": "Data up to this size is decoded once and kept in memory (default 2048)."},
    "train": {"epochs": "How many times training goes through the whole training data (default 10).",
              "device": "`auto` (a GPU when there is one), `cpu`, `cuda`, `cuda:N` or `mps`.",
              "seed": "The random seed: the same seed gives the same run (default 0).",
              "grad_clip": "Clip the gradients' total norm to this value before each step.",
              "early_stop": "Stop when `monitor` has not improved for `patience` epochs.",
              "precision": "`fp32` (default), or `bf16`/`fp16` mixed precision on a GPU.",
              "channels_last": "Keep images in channels-last memory order (faster on some GPUs).",
              "compile": "Compile the model with torch.compile before training."},
    "output": {"dir": "The folder the run folders go in (default `runs`).",
               "tensorboard": "Write TensorBoard logs (default true)."},
}


def _editor_sections(props: dict) -> dict:
    out = {}
    for key, value in props.items():
        value = dict(value)
        value.setdefault("title", key)
        if key in _SECTION_TEXT:
            value["markdownDescription"] = _SECTION_TEXT[key]
            value.setdefault("description", _SECTION_TEXT[key])
        if key in _KEY_TEXT and "properties" in value:
            value["properties"] = {k: dict(v, title=k, description=_KEY_TEXT[key].get(k, v.get("description", k)),
                                           markdownDescription=_KEY_TEXT[key].get(k, v.get("description", k)))
                                   for k, v in value["properties"].items()}
        out[key] = value
    data, train = dict(out["data"]), dict(out["train"])
    data["properties"] = dict(data["properties"], dataset=_editor_choice(
        DATASETS, "The data: a dataset's name, or its name with its settings.",
        {n: {k: {"description": v, **_DATASET_ARGS.get(k, {})} for k, v in args.items()}
         for n, args in DATASETS.items()}))
    kinds = {"optimizer": (OPTIMIZERS, "A torch.optim optimizer: `Adam`, or `{Adam: {lr: 0.001}}`.", "optimizers"),
             "loss": (LOSSES, "A torch.nn loss: `CrossEntropyLoss` for classes.", "losses"),
             "scheduler": (SCHEDULERS, "A torch.optim.lr_scheduler: `{StepLR: {step_size: 10}}`.", "schedulers")}
    train["properties"] = dict(train["properties"], **{
        key: _editor_choice(names, text, _train_args(table_key, names)) for key, (names, text, table_key) in kinds.items()})
    out["data"], out["train"] = data, train
    return out


def _train_args(kind: str, names) -> dict:
    """Each optimizer's (loss's, scheduler's) arguments, named, with their meaning and default, for
    completion and hovers; their values are checked by `netspec check` (trainargs.py)."""
    from .trainargs import table

    found = table()[kind]
    return {n: {arg: {"description": f"{rule['kind']}" + (f", default {json.dumps(rule['default'])}"
                                                         if "default" in rule else "")}
                for arg, rule in found[n]["args"].items()} for n in names if n in found}


def _editor_choice(names, text: str, args: dict | None = None) -> dict:
    """A name, or a one-key mapping of the name to its settings: both forms complete the names."""
    args = args or {}
    return {"description": text, "markdownDescription": text, "anyOf": [
        {"type": "string", "enum": list(names)},
        {"type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": False,
         "properties": {n: {"title": n, "type": ["object", "null"],
                            **({"properties": args[n], "additionalProperties": False} if n in args else {})}
                        for n in names}}]}


def _editor_transform_entry() -> dict:
    text = "A torchvision transform: `ToTensor`, `RandomCrop: 32`, `Normalize: {mean: [...], std: [...]}`."
    return {"description": text, "markdownDescription": text, "anyOf": [
        {"type": "string", "enum": list(TRANSFORMS)},
        {"type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": False,
         "properties": {t: {"title": t} for t in TRANSFORMS}}]}


_META = {
    "name": {"type": "string", "pattern": r"^[A-Za-z][A-Za-z0-9_]*$", "title": "name",
             "description": "A name other entries can refer to in `from`: letters, digits and _."},
    "from": {"type": ["string", "integer", "array"], "maximum": -1, "minItems": 1, "title": "from",
             "items": {"type": ["string", "integer"], "maximum": -1},
             "description": "The inputs: entry names, negative offsets (-1: the entry before) or `input`. "
                            "Default: the entry before."},
    "repeat": {"type": "integer", "minimum": 1, "title": "repeat",
               "description": "Stack the entry this many times."},
}


def _editor_entry(table: dict[str, LayerType], block: bool) -> dict:
    """A layer entry: a layer's name alone (only those without required arguments), or a mapping of one
    layer name to its arguments beside the meta keys name, from and repeat."""
    bare = [n for n, lt in table.items() if not lt.required]
    text = ("A layer: `ReLU`, `MaxPool2d: 2` (its main argument) or `Conv2d: {out_channels: 6, kernel_size: 5}`."
            if not block else "A layer of a block; `$name` and `$(expr)` stand for the block's params.")
    meta = {k: dict(v, markdownDescription=v["description"]) for k, v in _META.items()}
    layer = {n: {"title": n, "markdownDescription": _layer_text(lt), "description": str(lt.summary)} if block
             else {"$ref": f"#/$defs/{n}"} for n, lt in table.items()}
    block_use = {"type": ["object", "null"], "title": "a block",
                 "description": "A block of `blocks:`, with its params: `- basic: {channels: 16}`."}
    alone = ("not a layer that can stand alone here: a layer's name as netspec spells it (`ReLU`, `Flatten`), "
             "or a layer with its arguments (`- Linear: 10`, `- Conv2d: {out_channels: 6, kernel_size: 5}`); "
             "`netspec check` names the layer you meant")
    return {"description": text, "markdownDescription": text, "anyOf": [
        {"type": "string", "enum": bare, "errorMessage": alone},
        {"type": "string", "pattern": BLOCK_NAME, "errorMessage": alone},  # a block used without params
        # a block used with params (not the meta keys, which `properties` describes)
        {"type": "object", "minProperties": 1, "additionalProperties": False, "properties": {**meta, **layer},
         "patternProperties": {r"^(?!(name|from|repeat)$)[a-z][A-Za-z0-9_]*$": block_use},
         "dependentSchemas": {n: {"propertyNames": {"enum": [n, *META_KEYS]}} for n in table}}]}


def _layer_text(lt: LayerType) -> str:
    """The hover of a layer: what it does, its short form, its arguments with defaults, its formula."""
    from .argdocs import formula

    lines = [f"**{lt.name}**: {lt.summary}", ""]
    if lt.main and set(lt.required) <= {lt.main}:
        lines += [f"Short form: `- {lt.name}: <{lt.main}>`", ""]
    if lt.args:
        lines += ["| argument | | |", "| --- | --- | --- |"]
        lines += [f"| `{n}` | {_cell(_kind_text(a))} | {_state_text(a)} |" for n, a in lt.args.items()]
        lines.append("")
    shape = formula(lt.name)
    if shape:
        lines += [f"Shape: {shape}", ""]
    lines.append(f"`netspec layers {lt.name}` says the same.")
    return "\n".join(lines)


def _cell(text: str) -> str:
    """Text for a markdown table's cell: a `|` of its own would end the cell."""
    return text.replace("|", "\\|")


def _state_text(arg) -> str:
    if arg.inferred:
        return "inferred from the input when left out"
    if arg.default is REQUIRED:
        return "required"
    return f"default `{json.dumps(arg.default)}`"


def _sample(name: str, arg):
    """A value valid as inserted, for an argument without a default (a required one)."""
    usual = {"kernel_size": 3, "out_channels": 16, "out_features": 10, "in_features": 64, "in_channels": 3,
             "num_features": 16, "hidden_size": 64, "embedding_dim": 32, "num_embeddings": 1000, "size": 32,
             "num_heads": 4, "nhead": 4, "d_model": 64, "embed_dim": 64, "num_groups": 2, "num_channels": 16,
             "normalized_shape": 64, "p": 0.5, "output_size": 1, "dim": 1, "unflattened_size": [2, 2],
             "dims": [0, 2, 1], "chunks": 2, "split_size_or_sections": [32, 32], "index": 0}
    if name in usual:
        return usual[name]
    s = arg.schema
    types = s.get("type", []) if isinstance(s.get("type"), list) else [s.get("type")]
    if "enum" in s:
        return next(v for v in s["enum"] if v is not None)
    if "integer" in types:
        return max(1, s.get("minimum", 1))
    if "number" in types:
        return s.get("minimum", s.get("exclusiveMinimum", 0) + 0.5)
    if "boolean" in types:
        return False
    return None


def _allows_null(s: dict) -> bool:
    types = s.get("type") if isinstance(s.get("type"), list) else [s.get("type")]
    return "null" in types or None in s.get("enum", [])


def _editor_arg(name: str, arg) -> dict:
    """An argument as editors read it. yaml-language-server inserts a value when there is exactly one to
    propose (a default, or one example), or when a required argument has a default; and a list template
    whenever a schema has `items` at its top: so an int-or-list argument is written as anyOf of the two,
    and a required one carries, as `default`, the value to insert (its markdownDescription says it is
    required)."""
    from .argdocs import MEANINGS

    s = _split_int_or_list(dict(arg.schema))
    meaning = MEANINGS.get(name, arg.kind)
    kind = _kind_text(arg)
    state = _state_text(arg)
    s["title"] = name
    s["description"] = f"{meaning} ({kind}; {state})"
    s["markdownDescription"] = f"**{name}**: {meaning}.\n\n{kind}; {state}."
    if arg.default is not REQUIRED and (arg.default is not None or _allows_null(s)):
        s["default"] = arg.default
        if "enum" in s:  # the allowed values behind an anyOf, so that the default is the one value inserted
            s["anyOf"] = [{"enum": s.pop("enum")}]
    elif arg.default is REQUIRED or arg.default is None:
        example = _sample(name, arg)
        if example is not None:
            s["default" if arg.default is REQUIRED else "examples"] = example if arg.default is REQUIRED else [example]
    return s


def _kind_text(arg) -> str:
    return f"only {arg.kind.lower()}" if arg.kind in ("False", "True") else str(arg.kind)


def _split_int_or_list(s: dict) -> dict:
    """{type: [integer, array, (null)], items, minItems, ...} as anyOf [integer..., array..., (null)]; a list
    alone as anyOf [array...]: no `items` at the top, where an editor would take it for a list template."""
    types = s.get("type") if isinstance(s.get("type"), list) else [s.get("type")]
    if "array" not in types:
        return s
    array_keys = ("items", "minItems", "maxItems")
    number_keys = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
    branches = [{"type": t, **{k: s[k] for k in (array_keys if t == "array" else number_keys if t in ("integer", "number")
                                                else ()) if k in s}} for t in types]
    return {"anyOf": branches, **{k: v for k, v in s.items() if k not in ("type", *array_keys, *number_keys)}}


def _editor_layer(lt: LayerType) -> dict:
    """The value beside a layer's name: its arguments; or, as netspec accepts, its main argument alone
    (`MaxPool2d: 2`, only when that is all it needs) or nothing (`ReLU:`, only when it needs nothing).

    The mapping's keywords stand at the top (an editor fills a new entry's required arguments from them),
    the other forms are the branches of an anyOf beside a branch for the mapping."""
    out: dict = {"title": lt.name, "type": "object",
                 "properties": {n: _editor_arg(n, a) for n, a in lt.args.items()},
                 "additionalProperties": lt.extra_args}
    # the description is the markdown too: an editor falls back to it where several branches match
    out["description"] = out["markdownDescription"] = _layer_text(lt)
    if lt.required:
        out["required"] = lt.required
    example = "{" + ", ".join(f"{r}: {json.dumps(_sample(r, lt.args[r]))}" for r in lt.required) + "}"
    if lt.main and set(lt.required) <= {lt.main}:
        scalar = _branches(_split_int_or_list(dict(lt.args[lt.main].schema)))
        if not lt.required:
            scalar.append({"type": "null"})
        out["errorMessage"] = (f"the value beside {lt.name} is its {lt.main} ({_kind_text(lt.args[lt.main])}) "
                               f"or a mapping of its arguments")
    elif not lt.required:
        scalar = [{"type": "null"}]
        out["errorMessage"] = f"the value beside {lt.name} is a mapping of its arguments, or nothing"
    else:
        out["errorMessage"] = f"{lt.name} needs a mapping of its arguments: `- {lt.name}: {example}`"
        return out
    out["type"] = ["object", *sorted(set().union(*(_types(b) for b in scalar)) - {"object"})]
    out["anyOf"] = [{"type": "object"}, *scalar]
    return out


def _branches(s: dict) -> list[dict]:
    """A schema as a list of anyOf branches (itself, or its own anyOf's)."""
    if "anyOf" in s and set(s) <= {"anyOf", "default", "title", "description"}:
        return list(s["anyOf"])
    return [s]


def _types(s: dict) -> set[str]:
    if "anyOf" in s:
        return set().union(*(_types(b) for b in s["anyOf"]))
    if "enum" in s:
        names = {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null"}
        return {names[type(v)] for v in s["enum"]}
    t = s.get("type", [])
    return set(t) if isinstance(t, list) else {t}
