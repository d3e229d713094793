"""What each layer argument means, in one sentence, and the shape formula of each layer family: the
text an editor shows when the pointer rests on a layer or an argument (schema.py puts it in the
schema's `markdownDescription`). Data only; the words follow PyTorch's documentation."""
from __future__ import annotations

MEANINGS = {
    "activation": "the activation inside the feed-forward part: `relu` or `gelu`",
    "add_bias_kv": "add a learned bias to the keys and values",
    "add_zero_attn": "add a batch of zeros to the keys and values",
    "affine": "learn a scale and a shift per channel",
    "align_corners": "align the corner pixels of input and output (linear modes only)",
    "alpha": "the slope or scale of the negative part",
    "approximate": "`none` for the exact GELU, `tanh` for its faster approximation",
    "beta": "the sharpness of the curve",
    "bias": "learn an additive bias",
    "bidirectional": "also read the sequence backwards (the output has twice the features)",
    "ceil_mode": "round the output size up instead of down",
    "count_include_pad": "count the zero padding in the average",
    "d_model": "the number of features of each position (the input's last dimension)",
    "dilation": "the spacing between the kernel's taps",
    "dim": "the dimension it works along (1 is the channels or features, after the batch)",
    "dim_feedforward": "the width of the feed-forward part",
    "divisor_override": "divide by this number instead of the window's size",
    "downscale_factor": "how many times smaller each spatial side becomes",
    "dropout": "the probability of zeroing a value while training",
    "elementwise_affine": "learn a scale and a shift per normalized value",
    "embed_dim": "the number of features of each position (the input's last dimension)",
    "embedding_dim": "the length of the vector each token id becomes",
    "end_dim": "the last dimension to flatten (-1: the last one)",
    "eps": "a small number added to the variance, so that nothing is divided by 0",
    "groups": "split the channels into this many groups, each convolved on its own",
    "hidden_size": "the number of features of the hidden state (the output's last dimension)",
    "in1_features": "the number of features of the first input",
    "in2_features": "the number of features of the second input",
    "in_channels": "the number of channels of the input",
    "in_features": "the number of features of the input (its last dimension)",
    "init": "the starting value of the learned slope",
    "inplace": "overwrite the input instead of making a new tensor (saves memory)",
    "input_size": "the number of features of each step of the input",
    "k": "the number of values to keep in each row",
    "kernel_size": "the size of the window",
    "lambd": "the threshold of the shrinkage",
    "layer_norm_eps": "the eps of the layer norms inside",
    "lower": "the lower bound of the random slope",
    "max_norm": "renormalize each embedding vector longer than this",
    "max_val": "the largest output value",
    "min_val": "the smallest output value",
    "mode": "how new values are computed: `nearest`, `bilinear`, ...",
    "momentum": "how fast the running mean and variance follow each batch",
    "negative_slope": "the slope for negative inputs",
    "nhead": "the number of attention heads (it must divide d_model)",
    "nonlinearity": "`tanh` or `relu`",
    "norm_first": "normalize before attention and feed-forward rather than after",
    "norm_type": "the p of the p-norm",
    "normalized_shape": "the trailing dimensions to normalize over",
    "num_channels": "the number of channels of the input",
    "num_embeddings": "how many different token ids there are (the vocabulary's size)",
    "num_features": "the number of channels (or features) of the input",
    "num_groups": "the number of groups the channels are split into (it must divide the channels)",
    "num_heads": "the number of attention heads (it must divide embed_dim)",
    "num_layers": "the number of stacked layers",
    "num_parameters": "1 slope for all channels, or one per channel",
    "out_channels": "the number of channels of the output (the number of filters)",
    "out_features": "the number of features of the output (for the last layer: the number of classes)",
    "output": "`sequence`: every step's output; `last`: the last step's only",
    "output_padding": "extra size added to one side of the output",
    "output_size": "the size of the output, whatever the input's",
    "p": "the probability of zeroing a value while training (0 to 1)",
    "padding": "zeros added on every side of the input",
    "padding_idx": "the token id of padding, whose vector stays zero",
    "padding_mode": "what the padding holds: `zeros`, `reflect`, `replicate` or `circular`",
    "proj_size": "project the hidden state to this size (0: no projection)",
    "recompute_scale_factor": "compute the scale from the output size",
    "return_indices": "netspec's layers give one output, so this stays false",
    "scale_factor": "how many times bigger each spatial side becomes",
    "scale_grad_by_freq": "scale gradients by how rare each token id is in the batch",
    "size": "the size of the output",
    "sparse": "use sparse gradients",
    "start_dim": "the first dimension to flatten (1: keep the batch)",
    "stride": "the step of the window (default: the kernel size for pools, 1 for convolutions)",
    "threshold": "the value below which the input is replaced",
    "track_running_stats": "keep a running mean and variance for evaluation",
    "unflattened_size": "the shape the dimension is split into",
    "upper": "the upper bound of the random slope",
    "upscale_factor": "how many times bigger each spatial side becomes",
    "value": "the value put in place of the input below the threshold",
}

# The shape a layer family computes, in PyTorch's documented formulas.
_CONV = "H_out = floor((H_in + 2·padding − dilation·(kernel_size − 1) − 1) / stride + 1), the same for W"
_TRANSPOSED = "H_out = (H_in − 1)·stride − 2·padding + dilation·(kernel_size − 1) + output_padding + 1"
FORMULAS = {
    "Conv": _CONV, "MaxPool": _CONV, "AvgPool": _CONV.replace("dilation·(kernel_size − 1)", "kernel_size")
    .replace(" − 1) / stride", ") / stride"), "LPPool": _CONV, "ConvTranspose": _TRANSPOSED,
    "Linear": "(N, *, in_features) → (N, *, out_features)", "Flatten": "(N, C, H, W) → (N, C·H·W)",
    "AdaptiveAvgPool": "(N, C, H, W) → (N, C, output_size)", "AdaptiveMaxPool": "(N, C, H, W) → (N, C, output_size)",
}


def formula(layer: str) -> str | None:
    """The shape formula of a layer's family (Conv2d: the convolution's), or None."""
    for prefix in sorted(FORMULAS, key=len, reverse=True):
        if layer.startswith(prefix):
            return FORMULAS[prefix]
    return None
