"""Evaluation and prediction: a model on a test split, and on single images, from a checkpoint alone."""
from __future__ import annotations

import os
from contextlib import nullcontext

import torch

from . import checkpoint
from .catalog import ONE_HOT_LOSSES
from .errors import NetspecError, Problem, UsageError
from .i18n import _
from .objectives import sums


def targets(y: torch.Tensor, out: torch.Tensor, loss_name: str) -> torch.Tensor:
    """Class labels as the loss wants them: one-hot for losses that compare with the output's shape."""
    if loss_name in ONE_HOT_LOSSES and not y.is_floating_point() and out.dim() == 2:
        return torch.nn.functional.one_hot(y, out.shape[1]).to(out.dtype)
    return y


def run_eval(model, loader, loss_fn, loss_name: str, n_classes: int, device, autocast=nullcontext,
             all_sum=None) -> dict:
    """Mean loss, accuracy and confusion matrix over a loader, in eval mode without gradients.

    `all_sum` (a World's) sums the counts over the ranks, each of which evaluated its own share."""
    model.eval()
    loss_sum = torch.zeros((), device=device, dtype=torch.float64)
    confusion = torch.zeros(n_classes * n_classes, device=device, dtype=torch.long)
    n, classify, summed = 0, True, sums(loss_fn)
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            with autocast():
                out = model(x)
                loss = loss_fn(out, targets(y, out, loss_name))
            loss_sum += loss.detach().double() * (1 if summed else x.shape[0])  # the per-sample losses' sum
            n += x.shape[0]
            classify = classify and out.dim() == 2 and not y.is_floating_point() and n_classes > 0
            if classify:
                confusion += torch.bincount(y * n_classes + out.argmax(1), minlength=n_classes * n_classes)
    if all_sum is not None:
        counts = torch.tensor([n, int(not classify)], device=device, dtype=torch.long)
        all_sum(loss_sum, confusion, counts)
        n, classify = int(counts[0]), int(counts[1]) == 0  # a classifier on every rank
    result = {"loss": (loss_sum / max(n, 1)).item(), "samples": n, "accuracy": None, "confusion": None}
    if classify and n:
        matrix = confusion.view(n_classes, n_classes).cpu()
        result["accuracy"] = matrix.diag().sum().item() / n
        result["confusion"] = matrix.tolist()
    return result


def load_model(path: str, device: str = "cpu"):
    """(model in eval mode, checkpoint dict, check report) from a checkpoint file, on `device`."""
    from .builder import build_network
    from .compiler import check

    ckpt = checkpoint.load(path)
    report = check(ckpt["spec"], batch=0, allocate=True)  # its training batch is not this machine's concern
    if not report.valid:
        raise NetspecError(Problem(_("{path} holds a spec that this netspec cannot build: {problem}", path=path,
                                     problem=report.errors[0].message)))
    model = build_network(report.layers, report.input)
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as e:
        raise NetspecError(Problem(_("{path}: the weights do not fit the spec's model ({error})", path=path,
                                     error=str(e).splitlines()[0]))) from None
    return model.to(device).eval(), ckpt, report


def evaluate(path: str, overrides: list[str] | tuple = (), device: str | None = None) -> dict:
    """Loss, accuracy, per-class accuracy and confusion matrix of a checkpoint on its spec's test split."""
    from . import overrides as ov
    from .data import load_data
    from .device import resolve_device
    from .loader import Document
    from .objectives import make_loss
    from .catalog import resolved

    dev = resolve_device(device or "cpu", f"--device {device}")
    model, ckpt, report = load_model(path, dev)
    doc = ov.apply(Document(ckpt["spec"], path), list(overrides))
    spec = resolved(doc.data, "run")
    data = load_data(spec["data"], report.input.shape, report.input.dtype)
    loader = torch.utils.data.DataLoader(data.test, spec["data"]["test_batch_size"])
    loss_name, loss_fn = make_loss(spec["train"]["loss"])
    result = run_eval(model, loader, loss_fn.to(dev), loss_name, len(data.classes), dev)
    result["classes"] = data.classes
    if result["confusion"] is not None:
        rows = result["confusion"]
        result["per_class"] = {c: (rows[i][i] / sum(rows[i]) if sum(rows[i]) else None)
                               for i, c in enumerate(data.classes)}
    else:
        result["per_class"] = None
    return result


def predict(path: str, images: list[str], top: int = 5, device: str = "cpu",
            overrides: list[str] | tuple = ()) -> list[dict]:
    """The most likely classes of each image, by name, with probabilities; how each image was prepared
    (`prepared`: the steps, in words) and what makes it unlike the training images (`warnings`)."""
    one = predictor(path, top, device, overrides)
    return [one(image)[0] for image in images]


def predictor(path: str, top: int = 5, device: str = "cpu", overrides: list[str] | tuple = ()):
    """image path -> (predict's result for it, the tensor the model was given): the checkpoint loaded once."""
    from . import imagestats
    from . import overrides as ov
    from .loader import Document

    model, ckpt, report = load_model(path, device)
    spec = ov.apply(Document(ckpt["spec"], path), list(overrides)).data
    prepare = _preparation(spec.get("data", {}), report.input.shape)
    classes = ckpt.get("classes") or [str(i) for i in range(report.layers[-1].output.shape[-1])]
    stats = ckpt.get("data_stats")  # absent from checkpoints of netspec before 0.2

    def one(image: str) -> tuple[dict, torch.Tensor]:
        x, steps, aspect = prepare(image)
        with torch.no_grad():
            probs = torch.softmax(model(x.unsqueeze(0).to(device)).float(), dim=-1)[0].cpu()
        p, idx = probs.topk(min(top, probs.numel()))
        unlike = imagestats.differences(x, stats, aspect) if stats else []
        return {"image": image, "prepared": steps,
                "top": [{"class": classes[i] if i < len(classes) else str(i), "probability": float(v)}
                        for v, i in zip(p.tolist(), idx.tolist())],
                "warnings": [{"message": m, "hint": h} for m, h in unlike]}, x
    return one


_SIZING = ("Resize", "CenterCrop", "RandomCrop", "RandomResizedCrop")
_MODES = {1: "L", 3: "RGB", 4: "RGBA"}


def _mode_words(mode: str):
    return {"L": _("grey"), "1": _("black-and-white"), "RGB": _("colour"), "RGBA": _("transparent colour"),
            "P": _("palette colour"), "CMYK": _("CMYK colour")}.get(mode, mode)


def _name(entry) -> str:
    return entry if isinstance(entry, str) else next(iter(entry))


def _step(entry):
    """One transform of the preparation, in words where it has some."""
    name = _name(entry)
    value = None if isinstance(entry, str) else entry[name]
    if name == "ToTensor":
        return _("values scaled to 0..1 (ToTensor)")
    if name == "Invert":
        return _("inverted (Invert): light becomes dark")
    if name == "Normalize" and isinstance(value, dict):
        return _("normalised with mean {mean} and std {std} (Normalize)", mean=value.get("mean"),
                 std=value.get("std"))
    return name


def _preparation(data: dict, shape: tuple[int, ...]):
    """image path -> (tensor, the steps in words, the picture's width/height), as the spec's test
    transform prepares its data's images, after `data.predict_transform` (applied to the picture)."""
    import torchvision.transforms.functional as F

    from .data import dataset_spec, transforms

    if len(shape) != 3 or shape[0] not in (1, 3, 4):
        raise NetspecError(Problem(_("predict works on image models, but this model's input is {shape}",
                                     shape=str(list(shape)))))
    entries = data.get("transform", ["ToTensor"])
    before = data.get("predict_transform", [])
    pictures = dataset_spec(data)[0] not in ("npz", "digits")  # the transform starts from a picture
    tf = transforms(entries, ("data", "transform"), images=pictures)
    first = transforms(before, ("data", "predict_transform"), images=True)
    sizes = any(_name(e) in _SIZING for e in entries)

    def prepare(image: str):
        img, mode = _open(image, shape[0])
        steps = [_("a {width}x{height} {mode} picture", width=img.width, height=img.height, mode=_mode_words(mode))]
        if mode != _MODES[shape[0]]:
            steps.append(_("made {mode}", mode=_mode_words(_MODES[shape[0]])))
        aspect = img.width / img.height
        if first is not None:
            img = first(img)
            steps += [_step(e) for e in before]
        if not (pictures and sizes):  # nothing in the transform sizes it: fit it to model.input
            if (img.width, img.height) != (shape[2], shape[1]):
                steps.append(_("resized to {width}x{height}", width=shape[2], height=shape[1]) if
                             abs(aspect - shape[2] / shape[1]) < 0.01 else
                             _("resized to {width}x{height}, squeezed out of shape", width=shape[2], height=shape[1]))
            img = img.resize((shape[2], shape[1]))
        x = tf(img) if pictures and tf else F.to_tensor(img)
        x = x if pictures or tf is None else tf(x)
        steps += [_step(e) for e in entries] if pictures else \
            [_step("ToTensor")] + [_step(e) for e in entries if _name(e) != "ToTensor"]  # to_tensor, then the rest
        if tuple(x.shape) != tuple(shape):
            raise NetspecError(Problem(_("the spec's data.transform turns {image} into {shape}, but the model's "
                                         "input is {input}", image=image, shape=str(list(x.shape)),
                                         input=str(list(shape))),
                                       hints=(_("add a Resize to data.transform"),)))
        return x, steps, aspect
    return prepare


def _open(path: str, channels: int):
    """An image file in the model's colour mode (grey, RGB or RGBA), whatever its own format."""
    from PIL import Image, UnidentifiedImageError

    if not os.path.isfile(path):
        raise UsageError(Problem(_("no such image: {path}", path=path)))
    try:
        with Image.open(path) as img:
            return img.convert(_MODES[channels]), img.mode
    except (UnidentifiedImageError, OSError, ValueError):
        raise NetspecError(Problem(_("{path} cannot be read as an image", path=path),
                                   hints=(_("use a PNG, JPEG, BMP, GIF or another common image format"),))) from None
