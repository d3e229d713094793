"""What a torchvision model gives as a layer of vision.py (output shape, parameters, MACs), measured and remembered.

Each answer comes from building the model on torch's `meta` device (no memory, no weights) and running
it there once. netspec ships the answers for common inputs and any class count, and each model's
weights names; others are cached on disk, so that `netspec check` imports torch only the first time
it meets a model with another input size or other arguments.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import contextmanager
from functools import lru_cache

from ..atomic import atomic_write
from ..errors import first_line
from ..heavy import import_torch
from ..i18n import _
from ..registry import fmt

PREFIX = "torchvision."
CACHE_FORMAT = 3  # raised when a measurement's answer changes, so that older cached answers are not read


def _cache_path() -> str:
    from importlib.metadata import version

    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "netspec", f"torchvision-{version('torchvision')}-shapes-{CACHE_FORMAT}.json")


@lru_cache(maxsize=1)
def _cache() -> dict:
    try:
        with open(_cache_path()) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


@lru_cache(maxsize=1)
def _table() -> dict:
    """What netspec ships for this torchvision (tools/make_torchvision_shapes.py): "shapes" for common
    inputs and class counts, "weights" with each model's weights names and their class counts."""
    from importlib import resources
    from importlib.metadata import version

    try:
        table = json.loads(resources.files("netspec.layers").joinpath("torchvision_shapes.json").read_text())
    except (OSError, ValueError):
        return {}
    installed, made_for = _base(version("torchvision")), _base(str(table.get("torchvision")))
    if installed != made_for:  # a local suffix (0.29.1+cpu) is the same release; another release is not
        from ..i18n import tr

        sys.stderr.write(tr(_("netspec: its table of torchvision models was made with torchvision {made_for}, this "
                              "is {installed}: each model is measured on its first use instead (slower); rebuild "
                              "the table with `python tools/make_torchvision_shapes.py`", made_for=made_for,
                              installed=installed)) + "\n")
        return {}
    return table


def _base(version: str) -> str:
    """A version without its local suffix: "0.29.1+cpu" -> "0.29.1"."""
    return version.split("+", 1)[0]


def _shipped() -> dict:
    return _table().get("shapes", {})


def cache_key(model: str, kwargs: dict, shape: tuple[int, ...]) -> str:
    return json.dumps([model, kwargs, list(shape)], sort_keys=True)


def _remember(key: str, value: dict) -> None:
    _cache()[key] = value
    path = _cache_path()
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        atomic_write(path, lambda f: f.write(json.dumps(_cache(), sort_keys=True).encode()))
    except OSError:
        pass  # a read-only home: the next check measures again


def probe(model: str, kwargs: dict, shape: tuple[int, ...]) -> dict:
    """{"shape", "params", "macs"} or {"error", "hint"} (and a refused argument's parts, see _in_words) of a
    torchvision model on one input shape."""
    key = cache_key(model, kwargs, shape)
    if key in _shipped():
        return _shipped()[key]
    known = _any_classes(model, kwargs, shape)
    if known is not None:
        return known
    if key not in _cache():
        _remember(key, _measure_apart(model, kwargs, shape) if "torch" not in sys.modules else
                  _measure(model, kwargs, shape))
    return _cache()[key]


def _measure_apart(model: str, kwargs: dict, shape: tuple[int, ...]) -> dict:
    """_measure in a child process without torch's compiler (measure.py), or here if it fails."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # where netspec is
    env = None  # an installed netspec is found by the child as by this process; a source tree is shown to it
    if os.path.basename(root) not in ("site-packages", "dist-packages"):
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    try:
        # -P: the working folder is not on the child's path, so no file there (a torchvision.py) is imported
        child = subprocess.run([sys.executable, "-P", "-m", "netspec.layers.measure",
                                json.dumps([model, kwargs, shape])], capture_output=True, text=True, env=env,
                               timeout=600)
        if child.returncode == 0:
            return json.loads(child.stdout)
    except (OSError, subprocess.SubprocessError, ValueError):
        pass
    return _measure(model, kwargs, shape)


SAMPLED_CLASSES = (2, 10, 100, 1000)  # the table's class counts: 1000, every model's default, is `{}`


def _any_classes(model: str, kwargs: dict, shape: tuple[int, ...]) -> dict | None:
    """The answer for a class count the table lacks, from the counts it has, or None.

    num_classes only sets the width of a model's last layers, so each figure is a + b * num_classes;
    the four sampled counts must all lie on that line (tools/make_torchvision_shapes.py checks
    every model and input), and an input the model cannot take gives the same error for each."""
    if set(kwargs) != {"num_classes"}:
        return None
    n = kwargs["num_classes"]
    found = [_shipped().get(cache_key(model, {} if c == 1000 else {"num_classes": c}, shape)) for c in SAMPLED_CLASSES]
    if None in found:
        return None
    if all("error" in f for f in found) and all(f == found[0] for f in found):
        return found[0]
    if any("error" in f or f["shape"] != [c] for f, c in zip(found, SAMPLED_CLASSES)):
        return None
    answer = {"shape": [n]}
    for figure in ("params", "macs", "inner_bytes"):
        (c0, c1), (f0, f1) = SAMPLED_CLASSES[:2], (found[0][figure], found[1][figure])
        per_class, rest = divmod(f1 - f0, c1 - c0)
        if rest or any(f0 + per_class * (c - c0) != f[figure] for f, c in zip(found, SAMPLED_CLASSES)):
            return None
        answer[figure] = f0 + per_class * (n - c0)
    return answer


# What a model's constructor calls to give its tensors first values (torch.nn.init and Tensor's own).
INITIALISERS = frozenset({
    "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_", "dirac_", "xavier_uniform_",
    "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_", "sparse_", "fill_", "zero_",
})


def _drawing_nothing():
    """A torch function mode under which those calls leave their tensor as it is.

    The model measured ends on the meta device, which keeps no values, so drawing them only costs
    time: 0.3 s for efficientnet_b7, and seconds for a large RegNet built on the CPU."""
    from torch.overrides import TorchFunctionMode

    class DrawingNothing(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if getattr(func, "__name__", None) in INITIALISERS:
                return args[0] if args else kwargs["tensor"]
            return func(*args, **kwargs)

    return DrawingNothing()


# How torchvision's builders and torch's layers refuse arguments or inputs they cannot take (an assert,
# a bad value, an argument of the wrong kind); any other exception (MemoryError, a bug) is not a verdict
# on the spec and goes on, to be shown as an internal error.
REFUSALS = (TypeError, ValueError, AssertionError)


def _measure(model: str, kwargs: dict, shape: tuple[int, ...]) -> dict:
    """kwargs may hold `weights`: the model is then built as torchvision builds it for them (some
    builders change the model for its weights: GoogLeNet drops its auxiliary heads, a ViT takes
    the weights' image size), without loading them."""
    import warnings

    torchvision = import_torch(vision=True)
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    kwargs = dict(kwargs)
    weights = kwargs.pop("weights", None)
    try:
        with warnings.catch_warnings(), _loading_nothing():
            warnings.simplefilter("ignore")  # torchvision's notes on weight initialisation
            try:
                with torch.device("meta"), _drawing_nothing():
                    net = torchvision.models.get_model(model, weights=weights, **kwargs).eval()
            except NotImplementedError:  # RegNet computes its widths with tensors: build on the CPU
                with _drawing_nothing():
                    net = torchvision.models.get_model(model, weights=weights, **kwargs).eval().to("meta")
    except REFUSALS as e:  # torchvision's verdict on the arguments; anything else is not about them
        return _argument_error(model, e)
    params = sum(p.numel() for p in net.parameters())
    counter = FlopCounterMode(display=False)
    kept = []  # the outputs of the model's own layers, as a forward pass keeps them
    leaves = [m for m in net.modules() if not list(m.children())]
    hooks = [m.register_forward_hook(lambda m, i, o: kept.append(o.numel() if torch.is_tensor(o) else 0))
             for m in leaves]
    try:
        with counter, torch.no_grad():
            out = net(torch.empty(1, *shape, device="meta"))
    except REFUSALS + (RuntimeError, IndexError) as e:  # torch's verdict on the input
        return {"error": _cannot_take(model, shape, first_line(e)),
                "hint": _("most of these models want (N, 3, 224, 224); a larger model.input or an Upsample first "
                          "helps")}
    for hook in hooks:
        hook.remove()
    inner = 4 * (sum(kept) - out.numel())
    return {"shape": list(out.shape[1:]), "params": params, "macs": counter.get_total_flops() // 2,
            "inner_bytes": max(inner, 0)}


@contextmanager
def _loading_nothing():
    """While a model is built for measuring: its weights are neither downloaded nor loaded."""
    import torch
    from torchvision.models._api import WeightsEnum

    saved = WeightsEnum.get_state_dict, torch.nn.Module.load_state_dict
    WeightsEnum.get_state_dict = lambda *args, **kwargs: {}
    torch.nn.Module.load_state_dict = lambda module, state_dict, *args, **kwargs: None
    try:
        yield
    finally:
        WeightsEnum.get_state_dict, torch.nn.Module.load_state_dict = saved


def _cannot_take(model: str, shape: tuple[int, ...], torch_words: str) -> str:
    return _("{model} cannot take an input of {shape}: {torch}", model=PREFIX + model, shape=fmt(shape),
             torch=torch_words)


def _argument_error(model: str, e: Exception) -> dict:
    """The answer for arguments the model refused: an unknown one by name, with "did you mean"."""
    import re

    fixed = re.search(r"multiple values for keyword argument '(\w+)'", str(e))
    if fixed:
        return _in_words(model, {"about": "fixed", "arg": fixed.group(1)})
    unknown = re.search(r"unexpected keyword argument '(\w+)'", str(e))
    if not unknown:
        return _in_words(model, {"about": "arguments", "torch": first_line(e)})
    import inspect

    import torch
    import torchvision

    with torch.device("meta"), _drawing_nothing():
        try:
            known = [p for p in inspect.signature(type(torchvision.models.get_model(model)).__init__).parameters
                     if p not in ("self", "args", "kwargs")]
        except NotImplementedError:  # RegNet: its widths are computed from values
            known = []
    return _in_words(model, {"about": "unknown", "arg": unknown.group(1), "known": known})


def _in_words(model: str, verdict: dict) -> dict:
    """A refusal of the model's arguments, its "error" and "hint" added. The verdict keeps its parts (the
    argument, torch's words), from which _refusal says it again after JSON has made the words plain text."""
    from ..errors import did_you_mean

    name, arg = PREFIX + model, verdict.get("arg")
    docs = _("see torchvision's documentation of the model for its arguments")
    if verdict["about"] == "fixed":
        said = (_("{model} sets `{arg}` itself", model=name, arg=arg),
                _("leave {arg} out, or choose a model of torchvision's with the value you want", arg=arg))
    elif verdict["about"] == "unknown":
        known = verdict["known"] + ["weights"]
        names = ", ".join(known)
        listed = _("its arguments: {names}", names=names) if verdict["known"] else docs
        said = _("{model} has no argument `{arg}`", model=name, arg=arg), (did_you_mean(arg, known) or (listed,))[0]
    else:
        said = _("{model} does not accept these arguments: {torch}", model=name, torch=verdict["torch"]), docs
    return {**verdict, "error": said[0], "hint": said[1]}


def weights_of(model: str) -> dict[str, int]:
    """{weights name: its class count} of a model, DEFAULT included: shipped, cached, or read from torchvision."""
    if model in _table().get("weights", {}):
        return _table()["weights"][model]
    key = json.dumps(["weights", model])
    if key not in _cache():
        torchvision = import_torch(vision=True)
        enum = torchvision.models.get_model_weights(model)
        known = {w.name: len(w.meta.get("categories") or []) for w in enum}
        _remember(key, {"DEFAULT": known[enum.DEFAULT.name], **known})
    return _cache()[key]
