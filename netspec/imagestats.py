"""How the training images look, as the model sees them, and whether an image given to predict looks like
them: the background's brightness (light ink on a dark background, or dark on light), the colours, and
the shape of the pictures. The figures are saved in the checkpoint at training time (plain numbers, so
it still loads with weights_only), and predict compares each image with them."""
from __future__ import annotations

import math

import torch

from .i18n import _

SAMPLES = 512  # training images looked at: enough for stable means, a fraction of a second


def _border(x: torch.Tensor) -> torch.Tensor:
    """The mean of each image's outermost pixels (all channels): its background, for most pictures."""
    top, bottom, left, right = x[..., 0, :], x[..., -1, :], x[..., :, 0], x[..., :, -1]
    return torch.cat([t.flatten(1) for t in (top, bottom, left, right)], dim=1).mean(dim=1)


def training_stats(samples: torch.Tensor, aspect: float | None = None) -> dict:
    """Figures of up to SAMPLES images (N, C, H, W) as the model receives them; `aspect` is the usual
    width/height of the pictures before they were sized (None when not known)."""
    x = samples[:SAMPLES].float()
    means = x.mean(dim=(2, 3))  # (N, C): each image's mean colour
    border = _border(x)
    low, high = float(x.min()), float(x.max())
    middle = (low + high) / 2
    return {"channel_mean": means.mean(0).tolist(), "channel_spread": means.std(0, unbiased=False).tolist(),
            "low": low, "high": high, "dark_background": float((border < middle).float().mean()),
            "aspect": aspect, "images": len(x)}


def of_dataset(dataset, shape: tuple[int, ...]) -> dict | None:
    """The figures of a split's first images as the model receives them (None for models of other inputs)."""
    if len(shape) != 3 or shape[0] not in (1, 3, 4) or not len(dataset):
        return None
    x = torch.stack([dataset[i][0] for i in range(min(SAMPLES, len(dataset)))])
    if not x.is_floating_point() or tuple(x.shape[1:]) != tuple(shape):
        return None
    stats = training_stats(x, _aspect(dataset, x))
    return stats if is_finite(stats) else None


def _aspect(dataset, prepared: torch.Tensor) -> float | None:
    """The pictures' usual width/height before sizing: from the files of an ImageFolder, from the stored
    arrays of the others."""
    from torch.utils.data import Subset

    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    files = getattr(dataset, "samples", None)
    if files:
        from PIL import Image

        sizes = []
        for path, _label in files[:64]:
            try:
                with Image.open(path) as img:
                    sizes.append(img.size)
            except OSError:
                continue
        return usual_aspect(sizes)
    raw = getattr(dataset, "data", getattr(dataset, "x", None))
    if raw is not None and getattr(raw, "ndim", 0) >= 3:
        h, w = (raw.shape[1], raw.shape[2]) if raw.shape[-1] in (1, 3, 4) and raw.ndim == 4 else raw.shape[-2:]
        return w / h
    return prepared.shape[-1] / prepared.shape[-2]


def differences(x: torch.Tensor, stats: dict, aspect: float) -> list:
    """What makes one prepared image (C, H, W) unlike the training images: a list of (message, hint)."""
    found = []
    middle = (stats["low"] + stats["high"]) / 2
    dark_train = stats["dark_background"]
    light_here = float(_border(x.unsqueeze(0).float())[0]) > middle
    if dark_train >= 0.9 and light_here or dark_train <= 0.1 and not light_here:
        found.append((_("it has a {here} background, but the training images have {there} ones: the model has "
                        "only seen the opposite", here=_("light") if light_here else _("dark"),
                        there=_("dark") if light_here else _("light")),
                      _("invert it: add `--set data.predict_transform=[Invert]` to the command (or "
                        "`predict_transform: [Invert]` to the spec's data section)")))
    means, spread = x.float().mean(dim=(1, 2)).tolist(), stats["channel_spread"]
    far = [c for c, (m, mu, s) in enumerate(zip(means, stats["channel_mean"], spread))
           if abs(m - mu) > max(5 * s, 0.2 * (stats["high"] - stats["low"]))]  # far for these and for any image
    if far and not found:
        found.append((_("its colours are far from the training images' (mean {here} against {there})",
                        here=_fmt(means), there=_fmt(stats["channel_mean"])),
                      _("a photo unlike the training data gets a confident but meaningless answer; crop it to "
                        "the object, or train on images like it")))
    if stats.get("aspect") and aspect and max(aspect / stats["aspect"], stats["aspect"] / aspect) > 1.5:
        found.append((_("it is {here:.2f} times as wide as it is high; the training images are {there:.2f}: "
                        "it is squeezed to fit", here=aspect, there=stats["aspect"]),
                      _("crop it to the shape of the training images before predicting")))
    return found


def _fmt(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:.2f}" for v in values) + "]"


def usual_aspect(sizes: list[tuple[int, int]]) -> float | None:
    """The median width/height of (width, height) picture sizes."""
    ratios = sorted(w / h for w, h in sizes if w and h)
    return ratios[len(ratios) // 2] if ratios else None


def is_finite(stats: dict) -> bool:
    return all(math.isfinite(v) for v in stats["channel_mean"] + stats["channel_spread"])
