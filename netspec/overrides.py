"""`--set KEY=VALUE`: change any spec value from the command line, validated like the file."""
from __future__ import annotations

import copy
import re

from .errors import Path, Problem, UsageError
from .i18n import _
from .loader import Document, loads



def parse_key(key: str) -> Path:
    """"model.layers[3].Linear.out_features" -> ("model", "layers", 3, "Linear", "out_features")."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\[\d+\])*(\.[A-Za-z_][A-Za-z0-9_]*(\[\d+\])*)*", key):
        raise UsageError(Problem(_("--set {key}: the key must be a dotted path such as {example} or {example2}",
                                   key=key, example="train.epochs", example2="model.layers[3].Linear.out_features")))
    path: list = []
    for part in key.split("."):
        name, _bracket, rest = part.partition("[")
        path.append(name)
        path += [int(i) for i in re.findall(r"\d+", "[" + rest)] if rest else []
    return tuple(path)


def parse(item: str) -> tuple[Path, object]:
    """"train.epochs=3" -> (("train", "epochs"), 3); the value is read as YAML (numbers, lists, ...)."""
    key, eq, text = item.partition("=")
    if not eq:
        raise UsageError(Problem(_("--set {item}: write it as KEY=VALUE, e.g. {example}", item=item,
                                   example="--set train.epochs=3")))
    path = parse_key(key.strip())
    try:
        value = loads(f"value: {text}" if text.strip() else "value: null", f"--set {item}").data["value"]
    except Exception:
        raise UsageError(Problem(_("--set {item}: the value `{value}` cannot be read", item=item, value=text),
                                 hints=(_("quote text that holds special characters, e.g. {example}",
                                          example="--set name='\"x\"'"),)))
    return path, value


def apply(doc: Document, items: list[str]) -> Document:
    """A copy of the document with each override set; errors there point at the `--set` that caused them."""
    if not items:
        return doc
    data = copy.deepcopy(doc.data)
    overrides = dict(doc.overrides)
    for item in items:
        path, value = parse(item)
        target = data
        for depth, part in enumerate(path[:-1]):
            nxt = path[depth + 1]
            target = _step(target, part, {} if isinstance(nxt, str) else [], item)
        _put(target, path[-1], value, item)
        overrides[path] = f"--set {item}"
    return Document(data, doc.file, doc.text, doc.positions, doc.key_positions, overrides, doc.ends)


def _step(target, part, empty, item: str):
    if isinstance(target, dict):
        if not isinstance(target.get(part), (dict, list)):
            target[part] = empty
        return target[part]
    if isinstance(target, list) and isinstance(part, int) and part < len(target):
        return target[part]
    raise _not_there(item, part)


def _put(target, part, value, item: str) -> None:
    if isinstance(target, dict) and isinstance(part, str):
        target[part] = value
    elif isinstance(target, list) and isinstance(part, int) and part < len(target):
        target[part] = value
    else:
        raise _not_there(item, part)


def _not_there(item: str, part) -> UsageError:
    return UsageError(Problem(_("--set {item}: `{key}` is not there to set", item=item, key=part),
                              hints=(_("check the key against the spec; list positions count from 0"),)))
