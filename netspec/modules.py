"""torch modules of netspec's own, for layers whose torch class does not map one tensor to one tensor
(an RNN returns its state too, attention takes three inputs). State-dict keys stay torch's own."""
from __future__ import annotations

import torch

from .heavy import import_torch
from .i18n import _


class Add(torch.nn.Module):
    """The sum of its inputs (a skip connection)."""

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Mul(torch.nn.Module):
    """The element-wise product of its inputs."""

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out


class Concat(torch.nn.Module):
    """Its inputs joined along `dim`."""

    def __init__(self, dim: int = 1):
        super().__init__()
        self.dim = dim

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return torch.cat(xs, dim=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class _Part(torch.nn.Module):
    """One of the parts `method` (torch's chunk or split) cuts its input into: a Chunk or Split entry of the
    spec gives each part as a node of its own."""

    method, arg = "", ""

    def __init__(self, size, dim: int = 1, index: int = 0):
        super().__init__()
        self.size, self.dim, self.index = size, dim, index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return getattr(x, self.method)(self.size, self.dim)[self.index]

    def extra_repr(self) -> str:
        return f"{self.arg}={self.size}, dim={self.dim}, index={self.index}"


class Chunk(_Part):
    method, arg = "chunk", "chunks"

    def __init__(self, chunks: int, dim: int = 1, index: int = 0):
        super().__init__(chunks, dim, index)


class Split(_Part):
    method, arg = "split", "split_size_or_sections"

    def __init__(self, split_size_or_sections, dim: int = 1, index: int = 0):
        super().__init__(split_size_or_sections, dim, index)


class Permute(torch.nn.Module):
    """Its input with the dimensions reordered (dims counts the batch as 0)."""

    def __init__(self, dims):
        super().__init__()
        self.dims = tuple(dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(*self.dims)

    def extra_repr(self) -> str:
        return f"dims={self.dims}"


class Select(torch.nn.Module):
    """One position of dimension dim, that dimension dropped (x[:, 0] is dim=1, index=0)."""

    def __init__(self, dim: int = 1, index: int = 0):
        super().__init__()
        self.dim, self.index = dim, index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.select(self.dim, self.index)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, index={self.index}"


class ClassToken(torch.nn.Module):
    """A learned token put before the sequence: (N, L, D) -> (N, L + 1, D), as torchvision's ViT does."""

    def __init__(self, embed_dim: int):
        super().__init__()
        self.class_token = torch.nn.Parameter(torch.zeros(1, 1, embed_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1)


class PositionEmbedding(torch.nn.Module):
    """A learned embedding per position added to (N, L, D), initialised as torchvision's ViT does."""

    def __init__(self, num_positions: int, embed_dim: int):
        super().__init__()
        self.pos_embedding = torch.nn.Parameter(torch.empty(1, num_positions, embed_dim).normal_(std=0.02))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pos_embedding


class LayerScale(torch.nn.Module):
    """Each position of dimension dim multiplied by a learned factor (ConvNeXt's layer_scale)."""

    def __init__(self, num_features: int, dim: int = 1, init_values: float = 1e-5):
        super().__init__()
        self.dim = dim
        self.layer_scale = torch.nn.Parameter(torch.full((num_features,), float(init_values)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dim = self.dim % x.dim()
        return x * self.layer_scale.view(-1, *[1] * (x.dim() - dim - 1))

    def extra_repr(self) -> str:
        return f"{self.layer_scale.numel()}, dim={self.dim}"


class StochasticDepth(torch.nn.Module):
    """While training, a residual branch zeroed for a random p of the samples ("row") or of the batches
    ("batch"), the rest scaled by 1 / (1 - p): torchvision.ops.stochastic_depth, written out."""

    def __init__(self, p: float, mode: str = "row"):
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        size = [x.shape[0]] + [1] * (x.dim() - 1) if self.mode == "row" else [1] * x.dim()
        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival)
        if survival > 0.0:
            noise.div_(survival)
        return x * noise

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode!r}"


# Sequence layers: torch's classes, always batch_first, taking and returning one tensor.

class _Recurrent:
    """An RNN, LSTM or GRU that returns its output sequence, or (output="last") its last step, not its state."""

    def __init__(self, *, output: str = "sequence", **kwargs):
        super().__init__(batch_first=True, **kwargs)
        self.output = output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _state = super().forward(x)
        return y[:, -1] if self.output == "last" else y

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, output={self.output!r}"


class RNN(_Recurrent, torch.nn.RNN):
    pass


class LSTM(_Recurrent, torch.nn.LSTM):
    pass


class GRU(_Recurrent, torch.nn.GRU):
    pass


class SelfAttention(torch.nn.MultiheadAttention):
    """MultiheadAttention with the input as query, key and value; returns the output, not the weights."""

    def __init__(self, **kwargs):
        super().__init__(batch_first=True, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x, x, x, need_weights=False)[0]


class TransformerEncoderLayer(torch.nn.TransformerEncoderLayer):
    def __init__(self, **kwargs):
        super().__init__(batch_first=True, **kwargs)


class TransformerEncoder(torch.nn.TransformerEncoder):
    """num_layers copies of a TransformerEncoderLayer built from the other arguments."""

    def __init__(self, *, num_layers: int, **layer_args):
        layer = torch.nn.TransformerEncoderLayer(batch_first=True, **layer_args)
        super().__init__(layer, num_layers, enable_nested_tensor=False)


def torchvision_model(model: str, weights=None, **kwargs) -> torch.nn.Module:
    """A torchvision classification model; weights that cannot be downloaded get a clear error."""
    import os

    torchvision = import_torch(vision=True)

    from .errors import NetspecError, Problem

    kwargs = {k: v for k, v in kwargs.items() if v is not None}  # left out: torchvision's own default
    try:
        return torchvision.models.get_model(model, weights=weights, **kwargs)
    except (OSError, RuntimeError) as e:  # URLError is an OSError: no network, or the file is torn
        if weights is None:
            raise
        enum = torchvision.models.get_model_weights(model)
        chosen = enum.DEFAULT if weights == "DEFAULT" else enum[weights]
        file = os.path.basename(chosen.url)
        folder = os.path.join(torch.hub.get_dir(), "checkpoints")
        raise NetspecError(Problem(
            _("the {weights} weights of {model} could not be loaded ({torch})", weights=weights,
              model="torchvision." + model, torch=str(e).splitlines()[0][:120]),
            hints=(_("download {url} on a machine with a network and put it at {path}", url=chosen.url,
                     path=os.path.join(folder, file)),
                   _("or use `{line}` to start from random weights", line="weights: null")))) from None
