"""The JSON Schema (draft 2020-12) that `netspec check` validates a spec with, generated from the layer
registry: `x-` keywords carry the words validate.py says. Editors get editorschema.py's schema, made from it.
"""
from __future__ import annotations

from .advice import NAMES
from .catalog import DATASETS, LOSSES, OPTIMIZERS, SCHEDULERS, TRANSFORMS
from .i18n import _
from .registry import REQUIRED, LayerType, layers

SCHEMA_ID = "https://netspec.dev/schemas/netspec.schema.json"
NAME = r"^[A-Za-z_][A-Za-z0-9_.]*$"
META_KEYS = ("name", "from", "repeat")
BLOCK_NAME = r"^[a-z][A-Za-z0-9_]*$"  # a block's name starts with a lower-case letter; a layer type's does not
DTYPES = ["float32", "float64", "int64", "int32"]


def _arg(arg) -> dict:
    s = dict(arg.schema)
    if arg.kind:
        s["description"] = arg.kind
    if arg.default is not REQUIRED:
        s["default"] = arg.default
    return s


def layer_schema(lt: LayerType) -> dict:
    """The value beside a layer name: a mapping of arguments, the main argument, or nothing."""
    mapping: dict = {"type": "object", "properties": {n: _arg(a) for n, a in lt.args.items()},
                     "additionalProperties": lt.extra_args}
    if lt.required:
        mapping["required"] = lt.required
    if lt.main:
        scalar = dict(lt.args[lt.main].schema)
        types = scalar["type"] if isinstance(scalar.get("type"), list) else [scalar.get("type", "string")]
        scalar["type"] = types + ["null"] if "null" not in types else types
        if "enum" in scalar:
            scalar["enum"] = scalar["enum"] + [None]
            del scalar["type"]
    else:
        scalar = {"type": "null"}
    return {"description": lt.summary, "if": {"type": "object"}, "then": mapping, "else": scalar}


_FRACTION = {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}
# the kinds of value of the datasets' own settings
_DATASET_ARGS = {"root": {"type": "string", "minLength": 1}, "download": {"type": "boolean"},
                 "val_split": _FRACTION, "test_split": _FRACTION, "size": {"type": "integer", "minimum": 1},
                 "test_size": {"type": "integer", "minimum": 1}, "num_classes": {"type": "integer", "minimum": 1}}


def _name_or_mapping(names, description: str, args: dict[str, dict] | None = None) -> dict:
    """`Adam` or `{Adam: {lr: 0.001}}`: a name from `names` alone, or with its arguments."""
    mapping: dict = {"minProperties": 1, "maxProperties": 1, "propertyNames": {"enum": list(names)},
                     "additionalProperties": {"type": ["object", "null"]}}
    if args:
        mapping["allOf"] = [{"if": {"required": [n]}, "then": {"properties": {n: {
            "type": ["object", "null"], "additionalProperties": False,
            "properties": {k: {"description": v, **_DATASET_ARGS.get(k, {})} for k, v in args[n].items()}}}}}
            for n in names]
    return {"description": description, "type": ["string", "object"],
            "if": {"type": "string"}, "then": {"enum": list(names)}, "else": mapping}


def _transform_entry() -> dict:
    return {"description": "a torchvision transform: `ToTensor`, `RandomCrop: 32`, `Normalize: {mean: ..., std: ...}`",
            "type": ["string", "object"],
            "if": {"type": "string"}, "then": {"enum": list(TRANSFORMS)},
            "else": {"minProperties": 1, "maxProperties": 1, "propertyNames": {"enum": list(TRANSFORMS)}}}


def _layer_entry(table: dict[str, LayerType]) -> dict:
    return {
        "description": "a layer: `ReLU`, `MaxPool2d: 2`, or `Conv2d: {out_channels: 6, kernel_size: 5}`",
        "type": ["string", "object"],
        "if": {"type": "string"}, "then": {"pattern": NAME},
        "else": {
            "properties": {
                "name": {"type": "string", "pattern": r"^[A-Za-z][A-Za-z0-9_]*$",
                         "description": "a name other entries can refer to: letters, digits and _"},
                "from": {"type": ["string", "integer", "array"], "maximum": -1,
                         "items": {"type": ["string", "integer"], "maximum": -1}, "minItems": 1,
                         "description": "the inputs: names or negative offsets; default: the previous entry"},
                "repeat": {"type": "integer", "minimum": 1, "description": "stack the entry this many times"},
            },
            "propertyNames": {"pattern": NAME},
            "allOf": [{"if": {"required": [n]}, "then": {"properties": {n: {"$ref": f"#/$defs/{n}"}}}}
                      for n in table],
        },
    }


def _block_entry(table: dict[str, LayerType]) -> dict:
    """A block's entry: its arguments may be `$param` or `$(expr)`, so they are checked once substituted."""
    entry = _layer_entry(table)
    entry["description"] = "a layer of a block; `$name` and `$(expr)` stand for the block's params"
    entry["else"] = {k: v for k, v in entry["else"].items() if k != "allOf"}
    entry["else"]["properties"] = entry["else"]["properties"] | {"repeat": {
        "type": ["integer", "string"], "minimum": 1, "pattern": r"^\$",
        "x-expected": _("a whole number, `$param` or `$(expression)`"),
        "description": "stack the entry this many times; a number, `$param` or `$(expr)`"}}
    return entry


def _sections() -> dict:
    transforms = {"type": "array", "items": {"$ref": "#/$defs/transform_entry"},
                  "description": "torchvision transforms, in the same entry forms as layers"}
    count = {"type": "integer", "minimum": 1}
    return {
        "model": {
            "type": "object", "additionalProperties": False, "required": ["input", "layers"],
            "properties": {
                "input": {"description": "one sample's shape, without the batch dimension N",
                          "type": ["array", "object"],
                          "items": {"type": "integer", "minimum": 1}, "minItems": 1, "maxItems": 8,
                          "required": ["shape"], "additionalProperties": False,
                          "properties": {"shape": {"type": "array", "items": {"type": "integer", "minimum": 1},
                                                   "minItems": 1, "maxItems": 8},
                                         "dtype": {"enum": DTYPES}}},
                "layers": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/layer_entry"}},
            },
        },
        "blocks": {
            "type": "object", "propertyNames": {"pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"},
            "additionalProperties": {
                "type": "object", "additionalProperties": False, "required": ["layers"],
                "properties": {"params": {"type": "object",
                                          "description": "the block's params and their defaults (null: no default)"},
                               "layers": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/block_entry"}}},
            },
        },
        "data": {
            "type": "object", "additionalProperties": False,
            "properties": {
                "dataset": _name_or_mapping(DATASETS, "the data: " + ", ".join(DATASETS), DATASETS),
                "root": {"type": "string", "minLength": 1}, "download": {"type": "boolean"},
                "transform": transforms, "augment": transforms,
                "predict_transform": dict(transforms, description="transforms for `netspec predict` only, applied "
                                          "to a picture before `transform` (e.g. Invert for dark ink on paper)"),
                "batch_size": count, "test_batch_size": count,
                "val_split": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                "num_workers": {"type": "integer", "minimum": 0},
                "memory_budget_mb": {"type": "integer", "minimum": 0,
                                     "description": "data up to this size is decoded once and kept in memory "
                                                    "(default 2048; 0 streams it from disk every epoch)"},
            },
        },
        "train": {
            "type": "object", "additionalProperties": False,
            "properties": {
                "epochs": count,
                "optimizer": _name_or_mapping(OPTIMIZERS, "a torch.optim optimizer, e.g. {Adam: {lr: 0.001}}"),
                "loss": _name_or_mapping(LOSSES, "a torch.nn loss, e.g. CrossEntropyLoss"),
                "scheduler": _name_or_mapping(SCHEDULERS, "a torch.optim.lr_scheduler class, e.g. "
                                                          "{StepLR: {step_size: 10}}"),
                "device": {"type": "string", "pattern": r"^(auto|cpu|mps|cuda(:[0-9]+)?)$",
                           "description": "auto | cpu | cuda | cuda:N | mps",
                           "x-expected": _("one of auto, cpu, cuda, cuda:N (N a GPU number) or mps"),
                           "x-hint": _("auto picks a GPU when there is one; for an NVIDIA GPU write cuda, "
                                       "for Apple silicon mps")},
                "seed": {"type": "integer", "minimum": 0},
                "grad_clip": {"type": "number", "exclusiveMinimum": 0},
                "early_stop": {"type": "object", "additionalProperties": False, "required": ["patience"],
                               "properties": {"patience": count, "monitor": {"enum": ["test_loss", "test_accuracy"]}}},
                "precision": {"enum": ["fp32", "bf16", "fp16"]},
                "channels_last": {"type": "boolean"},
                "compile": {"type": "boolean"},
            },
        },
        "output": {
            "type": "object", "additionalProperties": False,
            "properties": {"dir": {"type": "string", "minLength": 1}, "tensorboard": {"type": "boolean"}},
        },
    }


def validation_schema() -> dict:
    """The schema `netspec check` validates with (validate.py words its errors): one `$defs` entry per layer
    type, reached by an if/then per layer name. Editors get schema(), made from it."""
    table = layers()
    sections = _sections()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "netspec spec",
        "description": "A neural network as data: see docs/reference.md",
        "type": "object",
        "additionalProperties": False,
        "required": ["netspec", "model"],
        "properties": {
            "netspec": {"const": 1, "description": "the spec-language version"},
            "name": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", "maxLength": 100,
                     "description": "the run's name; letters, digits, '.', '_' and '-'",
                     "x-expected": _("a name made of letters, digits, '.', '_' and '-' (it names the run's folder)")},
            "description": {"type": "string"},
            "params": {"type": "object", "propertyNames": {"pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"},
                       "additionalProperties": {"type": "number"},
                       "description": "the spec's own params: numbers every block can use as `$name` and in "
                                      "`$(expr)`"},
            "scales": {"type": "object", "minProperties": 1,
                       "propertyNames": {"pattern": r"^[A-Za-z0-9_]+$"},
                       "additionalProperties": {"type": "object", "additionalProperties": {"type": "number"}},
                       "description": "named sets of values for `params:` (e.g. n, s, m, l, x); `scale:` picks "
                                      "one, else the first"},
            "scale": {"type": "string", "description": "which of `scales:` to build; default: the first"},
            "silence": {"type": "array", "uniqueItems": True, "items": {"enum": list(NAMES)},
                        "description": "warnings not to show for this spec, by name: " + ", ".join(NAMES)},
            **sections,
        },
        "$defs": {"layer_entry": _layer_entry(table), "block_entry": _block_entry(table),
                  "transform_entry": _transform_entry(),
                  **{n: layer_schema(lt) for n, lt in table.items()}},
    }
