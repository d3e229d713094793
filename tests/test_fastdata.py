"""The in-memory data path: batched transforms equal torchvision's per-sample ones, decoding is exact."""
import numpy as np
import pytest
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as F
from PIL import Image

from netspec.data import TensorData
from netspec.fastdata import BatchTransform, MemoryLoader, MemorySplit, decode

torch.manual_seed(0)
IMAGES = torch.randint(0, 256, (6, 3, 12, 10), dtype=torch.uint8)


def pil(x: torch.Tensor) -> Image.Image:
    return Image.fromarray(x.permute(1, 2, 0).numpy())


def per_sample(transform, images=IMAGES) -> torch.Tensor:
    return torch.stack([transform(pil(x)) for x in images])


@pytest.mark.parametrize("entries,tv", [
    (["ToTensor"], T.ToTensor()),
    (["ToTensor", {"Normalize": {"mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.3]}}],
     T.Compose([T.ToTensor(), T.Normalize([0.5, 0.4, 0.3], [0.2, 0.25, 0.3])])),
    ([{"CenterCrop": 8}, "ToTensor"], T.Compose([T.CenterCrop(8), T.ToTensor()])),
    ([{"Pad": {"padding": [1, 2]}}, "ToTensor"], T.Compose([T.Pad([1, 2]), T.ToTensor()])),
])
def test_deterministic_transforms_equal_torchvision_on_pil(entries, tv):
    batched = BatchTransform.of(entries)(IMAGES.clone(), torch.Generator())
    assert torch.allclose(batched, per_sample(tv), atol=1e-6)


@pytest.mark.parametrize("entry,one", [({"Resize": [7, 9]}, lambda x: F.resize(x, [7, 9], antialias=True)),
                                       ({"Resize": 5}, lambda x: F.resize(x, 5, antialias=True)),
                                       ({"Grayscale": 3}, lambda x: F.rgb_to_grayscale(x, 3))])
def test_resize_and_grayscale_equal_torchvision_per_tensor_image(entry, one):
    """On tensors torchvision resizes and greys with its own kernels (PIL's differ by at most 1/255)."""
    batched = BatchTransform.of([entry, "ToTensor"])(IMAGES.clone(), torch.Generator())
    expected = torch.stack([one(x) for x in IMAGES]).float() / 255
    assert torch.equal(batched, expected)
    assert (batched - per_sample(T.Compose([T.Resize(entry["Resize"]) if "Resize" in entry else T.Grayscale(3),
                                            T.ToTensor()]))).abs().max() <= 2 / 255


@pytest.mark.parametrize("args", [{"size": 8, "padding": 2}, {"size": [10, 6]}, {"size": 12, "padding": [1, 3]},
                                  {"size": 9, "padding": 1, "padding_mode": "reflect"},
                                  {"size": 16, "pad_if_needed": True, "fill": 7}])
def test_random_crop_equals_torchvision_crop_at_the_same_offsets(args):
    g = torch.Generator().manual_seed(3)
    out = BatchTransform.of([{"RandomCrop": args}])(IMAGES.clone(), g)
    # the same offsets, drawn the same way, applied one image at a time by torchvision
    h, w = (args["size"], args["size"]) if isinstance(args["size"], int) else args["size"]
    pad = args.get("padding", 0)
    mode = {"reflect": "reflect"}.get(args.get("padding_mode"), "constant")
    padded = [F.pad(x, pad, fill=args.get("fill", 0), padding_mode=mode) if pad else x for x in IMAGES]
    if args.get("pad_if_needed"):
        padded = [F.pad(x, [max(0, w - x.shape[-1]), max(0, h - x.shape[-2])], fill=args.get("fill", 0))
                  for x in padded]
    hp, wp = padded[0].shape[-2:]
    g = torch.Generator().manual_seed(3)
    tops = torch.randint(0, hp - h + 1, (len(IMAGES),), generator=g)
    lefts = torch.randint(0, wp - w + 1, (len(IMAGES),), generator=g)
    expected = torch.stack([F.crop(x, int(t), int(l), h, w) for x, t, l in zip(padded, tops, lefts)]).float() / 255
    assert out.shape == (len(IMAGES), 3, h, w)
    assert torch.equal(out, expected)


@pytest.mark.parametrize("name,flip", [("RandomHorizontalFlip", F.hflip), ("RandomVerticalFlip", F.vflip)])
def test_flips_equal_torchvision_flip_of_the_chosen_samples(name, flip):
    g = torch.Generator().manual_seed(5)
    out = BatchTransform.of([{name: 0.5}])(IMAGES.clone(), g)
    chosen = torch.rand(len(IMAGES), generator=torch.Generator().manual_seed(5)) < 0.5
    assert 0 < chosen.sum() < len(IMAGES)
    expected = torch.stack([flip(x) if c else x for x, c in zip(IMAGES, chosen)]).float() / 255
    assert torch.equal(out, expected)


def test_transforms_without_a_batched_form_keep_the_streaming_path():
    assert BatchTransform.of(["ColorJitter", "ToTensor"]) is None
    assert BatchTransform.of([{"RandomCrop": {"size": 8, "padding": 1, "padding_mode": "symmetric"}}]) is None
    assert BatchTransform.of([{"RandomRotation": 10}]) is None


def test_decode_torchvision_cifar_format_equals_per_sample(tmp_path):
    import pickle

    from netspec.data import _torchvision

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(folder / name, "wb") as f:
            pickle.dump({"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8),
                         "labels": rng.integers(0, 10, 4).tolist()}, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"c{i}" for i in range(10)]}, f)
    train, test, classes = _torchvision("CIFAR10", {"root": str(tmp_path)}, T.PILToTensor(), T.PILToTensor())
    split = decode(train, 1 << 30)
    assert split.x.shape == (20, 3, 32, 32) and split.x.dtype == torch.uint8
    for i in range(len(train)):
        x, y = train[i]
        assert torch.equal(split.x[i], x) and split.y[i] == y
    assert decode(train, 100) is None  # over the budget: stream instead
    assert classes == [f"c{i}" for i in range(10)]


def test_decode_keeps_tensor_data_and_refuses_unequal_image_sizes():
    data = TensorData(torch.rand(5, 1, 8, 8), torch.arange(5))
    split = decode(data, 1 << 20)
    assert split.x is data.x and split.y is data.y

    class Pictures(torch.utils.data.Dataset):
        transform = None

        def __init__(self, sizes):
            self.sizes = sizes

        def __len__(self):
            return len(self.sizes)

        def __getitem__(self, i):
            return Image.new("RGB", self.sizes[i], (i, 0, 0)), i

    same = decode(Pictures([(4, 3)] * 3), 1 << 20)
    assert same.x.shape == (3, 3, 3, 4) and same.x[2, 0, 0, 0] == 2
    assert decode(Pictures([(4, 3), (5, 3)]), 1 << 20) is None


def test_memory_loader_visits_every_sample_once_per_epoch():
    split = MemorySplit(torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1), torch.arange(10))
    g = torch.Generator().manual_seed(0)
    loader = MemoryLoader(split, 4, BatchTransform.of([]), torch.device("cpu"), shuffle=True, generator=g)
    batches = list(loader)
    assert len(loader) == 3 and [len(y) for _, y in batches] == [4, 4, 2]
    ys = torch.cat([y for _, y in batches])
    assert sorted(ys.tolist()) == list(range(10)) and ys.tolist() != list(range(10))
    xs = torch.cat([x for x, _ in batches]).flatten()
    assert torch.equal(xs, ys.float() / 255)  # samples stay with their labels
