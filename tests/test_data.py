"""Datasets: torchvision's CIFAR10 and MNIST files written by the test, ImageFolder and predict, npz."""
import json
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

import netspec
from netspec.data import load_data
from tests.helpers import run_cli

CIFAR_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def write_spec(path: Path, model: dict, data: dict, epochs: int = 3, lr: float = 0.05) -> str:
    path.write_text(yaml.safe_dump({
        "netspec": 1, "name": path.stem, "model": model, "data": data,
        "train": {"epochs": epochs, "optimizer": {"Adam": {"lr": lr}}, "device": "cpu"},
        "output": {"dir": str(path.parent / "runs" / path.stem), "tensorboard": False}}, sort_keys=False))
    return str(path)


def eval_json(checkpoint) -> dict:
    code, out, err = run_cli("eval", str(checkpoint), "--format", "json")
    assert (code, err) == (0, "")
    return json.loads(out)


def block_images(labels: np.ndarray, channels: int, side: int, rng) -> np.ndarray:
    """(n, channels, side, side) uint8: dim noise, with the 4x4 grid cell of each label lit up."""
    cell = side // 4
    x = rng.integers(0, 60, size=(len(labels), channels, side, side), dtype=np.uint8)
    for i, k in enumerate(labels):
        r, c = divmod(int(k), 4)
        x[i, :, r * cell:(r + 1) * cell, c * cell:(c + 1) * cell] = 250
    return x


def block_model(channels: int, side: int) -> dict:
    return {"input": [channels, side, side], "layers": [{"AvgPool2d": side // 4}, "Flatten", {"Linear": 10}]}


# CIFAR10 and MNIST in their published layouts. ---------------------------------------

def write_cifar10(root: Path, n_train: int = 100, n_test: int = 40) -> tuple[np.ndarray, list[int]]:
    """cifar-10-batches-py as the Toronto archive unpacks it; returns the first training batch."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    first = None
    for name, n in [(f"data_batch_{i}", n_train // 5) for i in range(1, 6)] + [("test_batch", n_test)]:
        labels = [i % 10 for i in range(n)]
        data = block_images(np.array(labels), 3, 32, rng).reshape(n, 3072)
        with open(folder / name, "wb") as f:
            pickle.dump({"batch_label": name, "labels": labels, "data": data,
                         "filenames": [f"{name}_{i}.png" for i in range(n)]}, f)
        first = (data, labels) if first is None else first
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": CIFAR_NAMES, "num_cases_per_batch": n_train // 5, "num_vis": 3072}, f)
    return first


def write_idx(path: Path, array: np.ndarray) -> None:
    """The idx format of yann.lecun.com's MNIST files: magic (uint8, rank), big-endian sizes, the bytes."""
    with open(path, "wb") as f:
        f.write(struct.pack(">I", 0x0800 + array.ndim) + struct.pack(f">{array.ndim}I", *array.shape))
        f.write(array.astype(np.uint8).tobytes())


def write_mnist(root: Path, n_train: int = 100, n_test: int = 40) -> tuple[np.ndarray, np.ndarray]:
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(1)
    out = None
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 10
        images = block_images(labels, 1, 28, rng)[:, 0]
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
        out = (images, labels) if out is None else out
    return out


def test_cifar10_files_load_pixel_for_pixel_and_train(tmp_path):
    data, labels = write_cifar10(tmp_path / "cifar")
    loaded = load_data({"dataset": "CIFAR10", "root": str(tmp_path / "cifar")}, (3, 32, 32))
    assert (len(loaded.train), len(loaded.test)) == (100, 40) and loaded.classes == CIFAR_NAMES
    for i in (0, 7):
        x, y = loaded.train[i]
        assert y == labels[i]
        assert torch.equal(x, torch.from_numpy(data[i].reshape(3, 32, 32)).float() / 255)

    spec = write_spec(tmp_path / "cifar.yaml", block_model(3, 32),
                      {"dataset": "CIFAR10", "root": str(tmp_path / "cifar"), "batch_size": 20}, epochs=4)
    code, out, err = run_cli("train", spec)
    assert (code, err) == (0, "")
    result = eval_json(tmp_path / "runs" / "cifar" / "last.pt")
    assert result["samples"] == 40 and result["classes"] == CIFAR_NAMES
    assert result["accuracy"] >= 0.9 and set(result["per_class"]) == set(CIFAR_NAMES)


def test_mnist_files_load_pixel_for_pixel_and_train(tmp_path):
    images, labels = write_mnist(tmp_path / "mnist")
    loaded = load_data({"dataset": "MNIST", "root": str(tmp_path / "mnist")}, (1, 28, 28))
    assert (len(loaded.train), len(loaded.test)) == (100, 40) and len(loaded.classes) == 10
    for i in (0, 13):
        x, y = loaded.train[i]
        assert y == labels[i] and torch.equal(x, torch.from_numpy(images[i]).float().unsqueeze(0) / 255)

    spec = write_spec(tmp_path / "mnist.yaml", block_model(1, 28),
                      {"dataset": "MNIST", "root": str(tmp_path / "mnist"), "batch_size": 20}, epochs=4)
    assert run_cli("train", spec)[0] == 0
    result = eval_json(tmp_path / "runs" / "mnist" / "last.pt")
    assert result["samples"] == 40 and result["accuracy"] >= 0.9
    assert result["classes"] == ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six",
                                 "7 - seven", "8 - eight", "9 - nine"]


@pytest.mark.parametrize("dataset, folder, shape", [("CIFAR10", "cifar-10-batches-py", (3, 32, 32)),
                                                    ("MNIST", os.path.join("MNIST", "raw"), (1, 28, 28))])
@pytest.mark.parametrize("partly", [False, True])
def test_absent_files_with_download_false_name_the_folder_to_put_them_in(tmp_path, dataset, folder, shape, partly):
    root = tmp_path / "data"
    if partly:  # one file missing is as bad as all of them
        (write_cifar10 if dataset == "CIFAR10" else write_mnist)(root)
        os.remove(root / folder / ("test_batch" if dataset == "CIFAR10" else "t10k-images-idx3-ubyte"))
    else:
        root.mkdir()
    spec = write_spec(tmp_path / "absent.yaml", block_model(shape[0], shape[1]),
                      {"dataset": dataset, "root": str(root), "download": False})
    code, out, err = run_cli("train", spec)
    assert code == 1 and out == "" and "Traceback" not in err
    assert f"error: the {dataset} files are not in {root / folder} and data.download is false" in err.splitlines()[0]
    assert "hint: put " in err and "or set data.root to where they are" in err
    assert not (tmp_path / "runs").exists()


# ImageFolder, and predict on new images. ---------------------------------------------

COLORS = {"red": (220, 30, 30), "blue": (30, 30, 220)}
SIZES = [(10, 10), (14, 9), (20, 16), (9, 13), (32, 24)]


def square(path: Path, color: str, size: tuple[int, int], seed: int, mode: str = "RGB") -> str:
    rng = np.random.default_rng(seed)
    pixels = np.clip(np.array(COLORS[color]) + rng.integers(-30, 30, size=(size[1], size[0], 3)), 0, 255)
    img = Image.fromarray(pixels.astype(np.uint8), "RGB").convert(mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return str(path)


def image_folder(root: Path, splits=("train", "test")) -> int:
    n = 0
    for split in splits:
        for color in COLORS:
            for i, size in enumerate(SIZES * (2 if split == "train" else 1)):
                square(root / split / color / f"{i}.png", color, size, seed=n)
                n += 1
    return n


IMAGE_MODEL = {"input": [3, 8, 8], "layers": [{"Conv2d": {"out_channels": 4, "kernel_size": 3}}, "ReLU",
                                              "Flatten", {"Linear": 2}]}
IMAGE_TRANSFORM = [{"Resize": 8}, {"CenterCrop": 8}, "ToTensor"]


@pytest.fixture(scope="module")
def colors(tmp_path_factory):
    """A red-vs-blue classifier trained on an ImageFolder of PNGs of several sizes: (tmp dir, best.pt)."""
    tmp = tmp_path_factory.mktemp("colors")
    image_folder(tmp / "squares")
    spec = write_spec(tmp / "colors.yaml", IMAGE_MODEL, {"dataset": "ImageFolder", "root": str(tmp / "squares"),
                                                         "transform": IMAGE_TRANSFORM, "batch_size": 4}, epochs=4)
    code, _, err = run_cli("train", spec)
    assert (code, err) == (0, "")
    return tmp, tmp / "runs" / "colors" / "best.pt"


def test_image_folder_trains_on_pngs_of_any_size(colors):
    result = eval_json(colors[1])
    assert result["classes"] == ["blue", "red"] and result["samples"] == 10
    assert result["accuracy"] == 1.0 and result["confusion"] == [[5, 0], [0, 5]]


def test_predict_names_the_colour_of_new_images(colors):
    tmp, best = colors
    new = [square(tmp / "new" / "red.png", "red", (40, 25), seed=100),
           square(tmp / "new" / "blue.jpg", "blue", (7, 30), seed=101),
           square(tmp / "new" / "red-rgba.png", "red", (16, 16), seed=102, mode="RGBA"),
           square(tmp / "new" / "blue-grey-bmp.bmp", "blue", (12, 12), seed=103)]
    code, out, err = run_cli("predict", str(best), *new)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    heads = [i for i, ln in enumerate(lines) if not ln.startswith("  ")]
    assert [lines[i].split(": ")[0] for i in heads] == new  # each image and how it was prepared, then its classes
    assert [lines[i + 1].split()[1] for i in heads] == ["red", "blue", "red", "blue"]
    assert all(float(lines[i + 1].split()[0].rstrip("%")) > 50 for i in heads)
    assert "a 40x25 colour picture -> " in lines[heads[0]] and "a 16x16 transparent colour picture" \
        in lines[heads[2]]

    code, out, _ = run_cli("predict", str(best), *new, "--format", "json", "--top", "1")
    results = json.loads(out)
    assert code == 0 and [r["image"] for r in results] == new
    assert [[t["class"] for t in r["top"]] for r in results] == [["red"], ["blue"], ["red"], ["blue"]]
    assert all(0.5 < r["top"][0]["probability"] <= 1 for r in results)
    code, out, _ = run_cli("predict", str(best), new[0], "--format", "json")
    assert code == 0 and sum(t["probability"] for t in json.loads(out)[0]["top"]) == pytest.approx(1)


def test_predict_refuses_missing_and_unreadable_images(colors):
    tmp, best = colors
    code, out, err = run_cli("predict", str(best), str(tmp / "nope.png"))
    assert code == 2 and out == "" and f"error: no such image: {tmp / 'nope.png'}" in err
    (tmp / "notes.png").write_text("not an image")
    code, _, err = run_cli("predict", str(best), str(tmp / "notes.png"))
    assert code == 1 and f"{tmp / 'notes.png'} cannot be read as an image" in err and "Traceback" not in err
    assert run_cli("predict", str(best), str(tmp / "notes.png"), "--top", "0")[0] == 2


def test_predict_sees_an_image_as_eval_does(colors, tmp_path):
    from torchvision.datasets.folder import pil_loader

    from netspec import checkpoint

    # A checkpoint whose blue-vs-red score is plain arithmetic over the pixels it is given: sum(blue - red) / 10.
    ckpt = torch.load(colors[1], weights_only=True)
    ckpt["spec"]["model"] = {"input": [3, 8, 8], "layers": ["Flatten", {"Linear": 2}]}
    model = netspec.build(ckpt["spec"])
    weight, bias = model.state_dict().keys()
    per_pixel = torch.zeros(3, 8, 8)
    per_pixel[2], per_pixel[0] = 0.1, -0.1
    ckpt["state_dict"] = {weight: torch.stack([per_pixel.flatten(), torch.zeros(192)]), bias: torch.zeros(2)}
    model.load_state_dict(ckpt["state_dict"])
    checkpoint.save(str(tmp_path / "score.pt"), ckpt)

    path = square(tmp_path / "wide.png", "red", (30, 10), seed=200)
    img = np.array(Image.open(path))
    img[:, :10] = (30, 30, 220)  # blue at the left end: Resize 8 + CenterCrop 8 (the spec's transform) cuts it off
    Image.fromarray(img).save(path)
    tf = load_data(ckpt["spec"]["data"], (3, 8, 8)).test.transform
    with torch.no_grad():
        want = torch.softmax(model.eval()(tf(pil_loader(path)).unsqueeze(0)), 1)[0]
    assert want[0] < 0.05  # eval's pipeline sees a red image
    (got,) = netspec.predict(str(tmp_path / "score.pt"), [path], top=2)
    probs = {t["class"]: t["probability"] for t in got["top"]}
    assert [probs["blue"], probs["red"]] == pytest.approx(want.tolist(), abs=1e-4)


def test_val_split_holds_out_part_of_train_when_there_is_no_test_folder(tmp_path):
    n = image_folder(tmp_path / "only", splits=("train",))
    data = {"dataset": "ImageFolder", "root": str(tmp_path / "only"), "transform": IMAGE_TRANSFORM, "val_split": 0.25}
    loaded = load_data(data, (3, 8, 8))
    assert (len(loaded.train), len(loaded.test)) == (n - 5, 5)
    assert not set(loaded.train.indices) & set(loaded.test.indices)
    assert loaded.classes == ["blue", "red"]

    spec = write_spec(tmp_path / "split.yaml", IMAGE_MODEL, {**data, "batch_size": 5}, epochs=1)
    assert run_cli("train", spec)[0] == 0
    assert eval_json(tmp_path / "runs" / "split" / "last.pt")["samples"] == 5

    del data["val_split"]
    code, _, err = run_cli("train", write_spec(tmp_path / "nosplit.yaml", IMAGE_MODEL, data))
    assert code == 1 and f"{tmp_path / 'only'} has no test/ folder" in err and "data.val_split" in err


# npz. -------------------------------------------------------------------------------

def write_npz(path: Path, classes=True, n_train: int = 60, n_test: int = 20) -> dict:
    rng = np.random.default_rng(2)
    arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        y = np.arange(n) % 2
        x = np.where(y[:, None, None, None] == 1, rng.integers(190, 256, (n, 1, 6, 6)),
                     rng.integers(0, 60, (n, 1, 6, 6))).astype(np.uint8)
        arrays |= {f"x_{split}": x, f"y_{split}": y.astype(np.uint8)}
    if classes:
        arrays["classes"] = np.array(["dark", "bright"])
    np.savez(path, **arrays)
    return arrays


def test_npz_uint8_images_are_scaled_to_0_1_and_named_by_classes(tmp_path):
    arrays = write_npz(tmp_path / "light.npz")
    loaded = load_data({"dataset": "npz", "root": str(tmp_path / "light.npz")}, (1, 6, 6))
    assert loaded.classes == ["dark", "bright"] and (len(loaded.train), len(loaded.test)) == (60, 20)
    x, y = loaded.train[3]
    assert x.dtype == torch.float32 and torch.equal(x, torch.from_numpy(arrays["x_train"][3]).float() / 255)
    assert int(y) == 1 and 0 <= float(loaded.test[0][0].min()) and float(loaded.test[1][0].max()) <= 1

    model = {"input": [1, 6, 6], "layers": ["Flatten", {"Linear": 2}]}
    spec = write_spec(tmp_path / "light.yaml", model, {"dataset": "npz", "root": str(tmp_path / "light.npz"),
                                                      "batch_size": 10}, epochs=3)
    assert run_cli("train", spec)[0] == 0
    best = tmp_path / "runs" / "light" / "best.pt"
    result = eval_json(best)
    assert result["classes"] == ["dark", "bright"] and result["accuracy"] == 1.0
    assert set(result["per_class"]) == {"dark", "bright"}
    Image.new("L", (12, 12), 240).save(tmp_path / "white.png")
    Image.new("RGB", (5, 9), (10, 10, 10)).save(tmp_path / "black.png")
    top = netspec.predict(str(best), [str(tmp_path / "white.png"), str(tmp_path / "black.png")], top=1)
    assert [r["top"][0]["class"] for r in top] == ["bright", "dark"]


def test_npz_without_classes_names_them_by_number_and_a_missing_array_is_named(tmp_path):
    write_npz(tmp_path / "plain.npz", classes=False)
    assert load_data({"dataset": "npz", "root": str(tmp_path / "plain.npz")}, (1, 6, 6)).classes == ["0", "1"]
    np.savez(tmp_path / "half.npz", x_train=np.zeros((2, 1, 6, 6), np.uint8), y_train=np.zeros(2, np.int64))
    spec = write_spec(tmp_path / "half.yaml", {"input": [1, 6, 6], "layers": ["Flatten", {"Linear": 2}]},
                      {"dataset": "npz", "root": str(tmp_path / "half.npz")})
    code, _, err = run_cli("train", spec)
    assert code == 1 and f"{tmp_path / 'half.npz'} has no x_test, y_test" in err and "Traceback" not in err


def test_the_shipped_text_lstm_spec_learns_from_token_ids_in_an_npz(tmp_path):
    """specs/text_lstm.yaml as shipped, on 4 classes of token sequences: the class is the token that
    sequence repeats most (ids 1-4 among random others)."""
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", 640), ("test", 160)):
        y = rng.integers(0, 4, n)
        x = rng.integers(5, 5000, (n, 50))
        x[:, ::3] = (y + 1)[:, None]  # every third token names the class
        arrays |= {f"x_{split}": x.astype(np.int64), f"y_{split}": y.astype(np.int64)}
    np.savez(tmp_path / "text.npz", **arrays)
    spec = str(Path(__file__).resolve().parent.parent / "specs" / "text_lstm.yaml")
    code, out, err = run_cli("train", spec, "--device", "cpu", "--set", f"data.root={tmp_path / 'text.npz'}",
                             "--set", "train.epochs=4", "--set", f"output.dir={tmp_path / 'run'}",
                             "--set", "output.tensorboard=false")
    assert (code, err) == (0, "")
    result = eval_json(tmp_path / "run" / "best.pt")
    assert result["accuracy"] > 0.9, out


def test_an_npz_of_floats_for_a_token_id_model_is_a_located_error_not_ids_of_zero(tmp_path):
    rng = np.random.default_rng(1)
    np.savez(tmp_path / "floats.npz", x_train=rng.random((40, 50)).astype(np.float32), y_train=np.arange(40) % 4,
             x_test=rng.random((8, 50)).astype(np.float32), y_test=np.arange(8) % 4)
    spec = str(Path(__file__).resolve().parent.parent / "specs" / "text_lstm.yaml")
    code, out, err = run_cli("train", spec, "--set", f"data.root={tmp_path / 'floats.npz'}",
                             "--set", f"output.dir={tmp_path / 'run'}")
    assert code == 1 and not (tmp_path / "run").exists()
    assert err.startswith(f"{spec}:9:10: error: model.input takes integer token ids (int64), but the data's "
                          "samples are float32"), err
    # integers for a model of floats are values, as before: int32 pixels become float32
    loaded = load_data({"dataset": "npz", "root": str(tmp_path / "floats.npz")}, (50,), "int64")
    assert loaded.train[0][0].dtype == torch.float32  # kept as they are, for the check above to see
    np.savez(tmp_path / "ints.npz", x_train=np.arange(100, dtype=np.int32).reshape(2, 50), y_train=np.arange(2),
             x_test=np.arange(50, dtype=np.int32).reshape(1, 50), y_test=np.arange(1))
    x = load_data({"dataset": "npz", "root": str(tmp_path / "ints.npz")}, (50,)).train[1][0]
    assert x.dtype == torch.float32 and float(x[0]) == 50.0
    ids = load_data({"dataset": "npz", "root": str(tmp_path / "ints.npz")}, (50,), "int64").train[1][0]
    assert ids.dtype == torch.int64 and int(ids[-1]) == 99


def test_a_label_beyond_the_classes_is_a_located_error_before_training(tmp_path):
    arrays = write_npz(tmp_path / "light.npz")
    arrays["y_test"][3] = 2  # two class names, "dark" and "bright": 2 names no class
    np.savez(tmp_path / "light.npz", **arrays)
    model = {"input": [1, 6, 6], "layers": ["Flatten", {"Linear": 2}]}
    spec = write_spec(tmp_path / "light.yaml", model, {"dataset": "npz", "root": str(tmp_path / "light.npz")})
    code, out, err = run_cli("train", spec)
    assert code == 1 and "Traceback" not in err and not (tmp_path / "runs").exists()
    assert "error: the test data has the label 2, but its 2 classes are numbered 0 to 1" in err
