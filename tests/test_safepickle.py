"""CIFAR's pickled files are read without running code: a crafted payload in any of them is refused
with a clear message, while the published files (Python 2 pickles, numpy 1 and 2 names) still load."""
import os
import pickle

import numpy as np
import pytest

from netspec import safepickle
from netspec.data import load_data
from tests.helpers import run_cli

FORMATS = {  # dataset: (folder, data files, meta file, label key, class-name key)
    "CIFAR10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"], "batches.meta",
                "labels", "label_names"),
    "CIFAR100": ("cifar-100-python", ["train", "test"], "meta", "fine_labels", "fine_label_names"),
}


class Payload:
    """What an attacker pickles: unpickling it calls os.mkdir(marker)."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def write_format(root, dataset: str, n: int = 20, protocol: int = pickle.DEFAULT_PROTOCOL) -> None:
    folder, files, meta, label_key, names_key = FORMATS[dataset]
    os.makedirs(root / folder)
    rng = np.random.default_rng(0)
    for file in files:
        with open(root / folder / file, "wb") as f:
            pickle.dump({"batch_label": file, label_key: [i % 10 for i in range(n)],
                         "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8)}, f, protocol=protocol)
    with open(root / folder / meta, "wb") as f:
        pickle.dump({names_key: [f"class {i}" for i in range(10 if dataset == "CIFAR10" else 100)]}, f,
                    protocol=protocol)


def cases():
    for dataset, (folder, files, meta, *_) in FORMATS.items():
        for file in files + [meta]:
            yield dataset, folder, file


@pytest.mark.parametrize("dataset, folder, file", list(cases()))
def test_a_payload_in_any_pickled_file_is_refused_and_never_runs(tmp_path, dataset, folder, file):
    root, marker = tmp_path / "data", tmp_path / "pwned"
    write_format(root, dataset)
    with open(root / folder / file, "rb") as f:
        entry = pickle.load(f)
    entry["payload"] = Payload(str(marker))  # beside the real content, as a crafted file would hide it
    with open(root / folder / file, "wb") as f:
        pickle.dump(entry, f)
    spec, classes = tmp_path / "spec.yaml", 100 if dataset == "CIFAR100" else 10
    spec.write_text(f"netspec: 1\nmodel:\n  input: [3, 32, 32]\n  layers: [Flatten, {{Linear: {classes}}}]\n"
                    f"data: {{dataset: {dataset}, root: '{root}'}}\ntrain: {{epochs: 1, device: cpu}}\n"
                    f"output: {{dir: '{tmp_path / 'runs'}', tensorboard: false}}\n")
    code, out, err = run_cli("train", str(spec))
    assert not marker.exists()
    assert code == 1 and "Traceback" not in err
    assert f"error: {root / folder / file} holds more than data: it names posix.mkdir, which would run code" \
        in err.splitlines()[0]
    assert "hint: CIFAR's own files hold only numbers and names: get them again from https://" in err


@pytest.mark.parametrize("dataset", FORMATS)
@pytest.mark.parametrize("protocol", [2, pickle.DEFAULT_PROTOCOL])
def test_the_published_layout_loads(tmp_path, dataset, protocol):
    """Protocol 2 is what Python 2 wrote (the Toronto files); bytes then go through _codecs.encode."""
    write_format(tmp_path, dataset, protocol=protocol)
    folder, files, _, label_key, _ = FORMATS[dataset]
    with open(tmp_path / folder / files[0], "rb") as f:
        first = pickle.load(f)
    loaded = load_data({"dataset": dataset, "root": str(tmp_path)}, (3, 32, 32))
    assert len(loaded.classes) == (10 if dataset == "CIFAR10" else 100) and loaded.classes[3] == "class 3"
    assert len(loaded.train) == 20 * (len(files) - 1) and len(loaded.test) == 20
    assert np.array_equal(loaded.train.data[5], first["data"][5].reshape(3, 32, 32).transpose(1, 2, 0))
    assert loaded.train.targets[:12] == first[label_key][:12]


def test_numpy_1_names_and_python_2_strings_load(tmp_path):
    """Files written by numpy 1 name numpy.core.multiarray; a Python 2 str of pixels reads as latin-1."""
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    text = pickle.dumps({"data": array, "n": np.int64(7)}, protocol=0)
    text = text.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert b"numpy.core.multiarray" in text
    (tmp_path / "old").write_bytes(text)
    loaded = safepickle.read(str(tmp_path / "old"))
    assert np.array_equal(loaded["data"], array) and loaded["n"] == 7


@pytest.mark.parametrize("obj, name", [
    (np.array([{"a": 1}], dtype=object), "an array of Python objects"),
    (np.ma.masked_array([1, 2]), "numpy.ma.core._mareconstruct"),
    (Payload("never"), "posix.mkdir"),
])
def test_anything_beyond_plain_data_is_refused(tmp_path, obj, name):
    (tmp_path / "f").write_bytes(pickle.dumps(obj))
    with pytest.raises(safepickle.UnsafePickle) as e:
        safepickle.read(str(tmp_path / "f"))
    assert e.value.name == name
    assert not os.path.exists("never")


def test_other_codecs_are_refused(tmp_path):
    crafted = b"\x80\x02c_codecs\nencode\nX\x03\x00\x00\x00abcX\x04\x00\x00\x00zlib\x86R."
    (tmp_path / "f").write_bytes(crafted)
    with pytest.raises(safepickle.UnsafePickle):
        safepickle.read(str(tmp_path / "f"))


@pytest.mark.parametrize("damage", ["cut", "float pixels", "no classes"])
def test_damaged_or_foreign_files_are_one_clear_message(tmp_path, damage):
    write_format(tmp_path, "CIFAR10")
    folder = tmp_path / "cifar-10-batches-py"
    if damage == "cut":
        path = folder / "data_batch_2"
        path.write_bytes(path.read_bytes()[:5000])
        why = "it is damaged or cut short"
    elif damage == "float pixels":
        path = folder / "test_batch"
        path.write_bytes(pickle.dumps({"labels": [0, 1], "data": np.zeros((2, 3072), np.float32)}))
        why = "its data or labels are not CIFAR's"
    else:
        path = folder / "batches.meta"
        path.write_bytes(pickle.dumps({"names": ["a"]}))
        why = "it has no list of class names under `label_names`"
    with pytest.raises(Exception) as e:
        load_data({"dataset": "CIFAR10", "root": str(tmp_path)}, (3, 32, 32))
    assert type(e.value).__name__ == "NetspecError"
    assert str(e.value) == f"{path} is not a CIFAR file: {why}"
