#!/usr/bin/env python3
"""netspec against what a user would pick instead, in one run, one process at a time.

One epoch and a test pass, batch 64, Adam 1e-3, on the same CIFAR-format random images, by:
  raw        a plain loop over tensors already in memory (the limit)
  seed       the seed tutorial's loop (../shared/bench/seed_cifar_loop.py; LeNet only)
  netspec    `netspec train`, defaults (TensorBoard, checkpoints)
  lightning  a LightningModule and a DataLoader(TensorDataset), Trainer defaults but the progress bar
  keras      Keras 3 on the torch backend, model.fit on NumPy arrays, then evaluate
for the LeNet of specs/cifar.yaml on 50,000 images, and ResNet-20 (specs/resnet_cifar.yaml) on 10,000.
Prints each one's training-epoch time, whole-process time and peak memory (the run of least time of
--repeat rounds, each round every contender once, one process at a time), the
ratios the speed issue asks for, and netspec's time to its first batch against `import torch`.

usage: pip install '.[bench]'; python bench/peers.py [--repeat 2] [--models lenet,resnet20] [--device cpu]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_vs_seed import peak_mib  # noqa: E402  (a child's wall time and peak memory from wait4)

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "bench"
SPECS = {"lenet": ROOT / "specs" / "cifar.yaml", "resnet20": ROOT / "specs" / "resnet_cifar.yaml"}

# Each child prints one JSON line {"train_s": ...} (its first epoch) and whatever else it likes.
DATA = r"""
import numpy as np, os
from netspec.safepickle import read
def cifar(root, n_train, n_test):
    folder = os.path.join(root, "cifar-10-batches-py")
    xs, ys = [], []
    for k in range(1, 6):
        batch = read(os.path.join(folder, f"data_batch_{k}"))
        xs.append(batch["data"]); ys += list(batch["labels"])
    test = read(os.path.join(folder, "test_batch"))
    x = np.concatenate(xs).reshape(-1, 3, 32, 32)[:n_train]
    return x, np.array(ys[:n_train]), test["data"].reshape(-1, 3, 32, 32)[:n_test], np.array(test["labels"][:n_test])
"""

RAW = DATA + r"""
import sys, time, json, torch, netspec
spec, root, n_train, n_test, device = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
x, y, tx, ty = cifar(root, n_train, n_test)
x = torch.from_numpy(x).float().div_(255).to(device); y = torch.from_numpy(y).to(device)
tx = torch.from_numpy(tx).float().div_(255).to(device); ty = torch.from_numpy(ty).to(device)
torch.manual_seed(0)
model = netspec.build(spec).to(device)
opt = torch.optim.Adam(model.parameters(), lr=0.001)
loss_fn = torch.nn.CrossEntropyLoss()
t = time.perf_counter()
model.train()
for i in range(0, n_train, 64):
    loss = loss_fn(model(x[i:i + 64]), y[i:i + 64])
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
train_s = time.perf_counter() - t
model.eval()
with torch.no_grad():
    right = sum((model(tx[i:i + 128]).argmax(1) == ty[i:i + 128]).sum().item() for i in range(0, n_test, 128))
print(json.dumps({"train_s": train_s, "test_acc": right / n_test}), flush=True)
"""

LIGHTNING = DATA + r"""
import sys, time, json, torch, netspec
import lightning as L
spec, root, n_train, n_test, device = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
x, y, tx, ty = cifar(root, n_train, n_test)
train = torch.utils.data.TensorDataset(torch.from_numpy(x).float().div_(255), torch.from_numpy(y))
test = torch.utils.data.TensorDataset(torch.from_numpy(tx).float().div_(255), torch.from_numpy(ty))

class Module(L.LightningModule):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = netspec.build(spec)  # the same torch module netspec trains
        self.loss = torch.nn.CrossEntropyLoss()
    def forward(self, x):
        return self.net(x)
    def training_step(self, batch, _i):
        x, y = batch
        loss = self.loss(self(x), y)
        self.log("train_loss", loss)
        return loss
    def test_step(self, batch, _i):
        x, y = batch
        self.log("test_acc", (self(x).argmax(1) == y).float().mean())
    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=0.001)

class Clock(L.Callback):
    def on_train_epoch_start(self, *_):
        self.t = time.perf_counter()
    def on_train_epoch_end(self, *_):
        self.s = time.perf_counter() - self.t

clock = Clock()
trainer = L.Trainer(max_epochs=1, accelerator="gpu" if device.startswith("cuda") else "cpu", devices=1,
                    enable_progress_bar=False, enable_model_summary=False, callbacks=[clock],
                    default_root_dir=sys.argv[6])  # its logs and checkpoints, as by default, in a scratch folder
module = Module()
trainer.fit(module, torch.utils.data.DataLoader(train, batch_size=64, shuffle=False))
result = trainer.test(module, torch.utils.data.DataLoader(test, batch_size=128), verbose=False)
print(json.dumps({"train_s": clock.s, "test_acc": result[0]["test_acc"]}), flush=True)
"""

KERAS = DATA + r"""
import os, sys, time, json
os.environ["KERAS_BACKEND"] = "torch"
import keras
spec, root, n_train, n_test, device, model_name = sys.argv[1:7]
x, y, tx, ty = cifar(root, int(n_train), int(n_test))
x = (x.transpose(0, 2, 3, 1) / 255).astype("float32"); tx = (tx.transpose(0, 2, 3, 1) / 255).astype("float32")
keras.utils.set_random_seed(0)
L = keras.layers

def resnet20():
    inputs = keras.Input((32, 32, 3))
    def conv(h, c, s=1, k=3):
        return L.Conv2D(c, k, strides=s, padding="same", use_bias=False)(h)
    h = L.ReLU()(L.BatchNormalization()(conv(inputs, 16)))
    for c, first_stride in ((16, 1), (32, 2), (64, 2)):
        for b in range(3):
            s = first_stride if b == 0 else 1
            skip = h if s == 1 and h.shape[-1] == c else L.BatchNormalization()(conv(h, c, s, 1))
            out = L.ReLU()(L.BatchNormalization()(conv(h, c, s)))
            out = L.BatchNormalization()(conv(out, c))
            h = L.ReLU()(L.Add()([skip, out]))
    h = L.GlobalAveragePooling2D()(h)
    return keras.Model(inputs, L.Dense(10)(h))

if model_name == "lenet":
    model = keras.Sequential([keras.Input((32, 32, 3)), L.Conv2D(6, 5), L.MaxPooling2D(2), L.ReLU(),
                              L.Conv2D(16, 5), L.MaxPooling2D(2), L.ReLU(), L.Flatten(), L.Dense(120, "relu"),
                              L.Dense(84, "relu"), L.Dense(10)])
else:
    model = resnet20()
model.compile(optimizer=keras.optimizers.Adam(0.001),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])

class Clock(keras.callbacks.Callback):
    def on_epoch_begin(self, *_):
        self.t = time.perf_counter()
    def on_epoch_end(self, *_):
        self.s = time.perf_counter() - self.t

clock = Clock()
model.fit(x, y, batch_size=64, epochs=1, shuffle=False, verbose=0, callbacks=[clock])
_loss, acc = model.evaluate(tx, ty, batch_size=128, verbose=0)
print(json.dumps({"train_s": clock.s, "test_acc": acc}), flush=True)
"""

# netspec train with a timer on its first optimizer step: the time from the process's start to the end of
# the first batch (the hook is torch's global optimizer hook; importing torch.optim here costs what
# netspec pays for it anyway). `netspec train` puts its stand-in for torch's compiler in place before it
# imports torch (these specs do not compile); the timer's import of torch must not come first, or the child
# would time netspec with the real compiler loaded, a second it does not spend. It ends as the command does.
NETSPEC = r"""
import sys, time, json, os
start = float(os.environ["BENCH_SPAWNED"])
from netspec import eager
eager.without_the_compiler(strict=False)  # what netspec.cli._train does first for a spec that does not compile
import torch.optim.optimizer as o
first = []
def hook(*_):
    if not first:
        first.append(time.time() - start)
o.register_optimizer_step_post_hook(hook)
import atexit
atexit.register(lambda: print(json.dumps({"first_batch_s": first[0] if first else None,
                                          "compiler_loaded": eager.compiler_loaded()}), flush=True))
from netspec.cli import run
sys.argv[0] = "netspec"
run()  # as the `netspec` command ends: exit handlers (the line above), then no interpreter teardown
"""


def run(argv: list[str]) -> tuple[float, float, str]:
    """(whole-process seconds, peak MiB, stdout) of a child, told when it was spawned (BENCH_SPAWNED)."""
    return peak_mib(argv, dict(os.environ, BENCH_SPAWNED=repr(time.time())))


def last_json(text: str) -> dict:
    merged: dict = {}
    for line in text.splitlines():
        if line.startswith("{"):
            merged |= json.loads(line)
    return merged


def contenders(model: str, data: str, n_train: int, n_test: int, device: str, tmp: str) -> dict:
    spec = str(SPECS[model])
    common = [spec, data, str(n_train), str(n_test), device]
    netspec_argv = [sys.executable, "-c", NETSPEC, "train", spec, "--set", f"data.root={data}",
                    "--set", "data.download=false", "--set", "train.epochs=1", "--set", f"train.device={device}",
                    "--set", f"output.dir={tmp}/run-{model}"]
    out = {"raw": [sys.executable, "-c", RAW, *common],
           "netspec": netspec_argv,
           "lightning": [sys.executable, "-c", LIGHTNING, *common, f"{tmp}/lightning-{model}"],
           "keras": [sys.executable, "-c", KERAS, *common, model]}
    if model == "lenet":
        out["seed"] = [sys.executable, str(SHARED / "seed_cifar_loop.py"), data, "--epochs", "1", "--device", device]
    return out


def netspec_train_s(folder: str, n_train: int) -> float:
    import csv

    with open(os.path.join(folder, "metrics.csv")) as f:
        row = list(csv.DictReader(f))[-1]
    return n_train / float(row["images_per_s"])  # the training part of the epoch, as metrics.csv has it


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--models", default="lenet,resnet20")
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folders = {}
        for model in a.models.split(","):  # LeNet: 50,000 + 10,000 images; ResNet-20: 10,000 + 2,000
            sizes = ["--train", "50000", "--test", "10000"] if model == "lenet" else ["--train", "10000", "--test", "2000"]
            folders[model] = os.path.join(tmp, "cifar-" + model)
            subprocess.run([sys.executable, str(SHARED / "make_cifar_format.py"), folders[model], *sizes], check=True,
                           capture_output=True)
        import_torch = min(run([sys.executable, "-c", "import torch"])[0] for _ in range(a.repeat))
        print(f"device {a.device}; least of {a.repeat} rounds; `python -c 'import torch'`: {import_torch:.2f} s",
              flush=True)
        for model in a.models.split(","):
            n_train, n_test = (50000, 10000) if model == "lenet" else (10000, 2000)
            results: dict = {}
            # in rounds (raw, seed, netspec, lightning, keras, then again): a machine whose speed drifts
            # over the minutes of a run slows every contender alike, not the ones that happen to come last
            for _ in range(a.repeat):
                for name, argv in contenders(model, folders[model], n_train, n_test, a.device, tmp).items():
                    if name == "netspec":
                        subprocess.run(["rm", "-rf", f"{tmp}/run-{model}"])
                    wall, peak, out = run(argv)
                    figures = last_json(out)
                    if name == "netspec":
                        figures["train_s"] = netspec_train_s(f"{tmp}/run-{model}", n_train)
                    figures |= {"wall": wall, "peak": peak}
                    print(f"  {model} {name}: {json.dumps(figures)}", flush=True)
                    best = results.get(name)
                    results[name] = figures if best is None or wall < best["wall"] else best
            print(f"\n{model}: one epoch of {n_train:,} images and a test pass of {n_test:,}")
            print(f"{'':12s}{'train epoch s':>14s}{'process s':>11s}{'peak MiB':>10s}")
            for name, r in results.items():
                print(f"{name:12s}{r['train_s']:14.2f}{r['wall']:11.2f}{r['peak']:10.0f}")
            ours = results["netspec"]
            for peer in ("lightning", "keras"):
                print(f"netspec process / {peer} process: {ours['wall'] / results[peer]['wall']:.2f}x")
            print(f"netspec epoch / raw epoch:       {ours['train_s'] / results['raw']['train_s']:.2f}x")
            print(f"netspec time to first batch:     {ours['first_batch_s']:.2f} s, "
                  f"{ours['first_batch_s'] - import_torch:.2f} s over importing torch\n", flush=True)


if __name__ == "__main__":
    main()
