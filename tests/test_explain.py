"""predict explains itself (how each image was prepared, and what makes it unlike the training images,
with the fix), a run ends with one summary line, and `| head` ends a command quietly."""
import json
import subprocess
import sys

import pytest
from PIL import Image, ImageDraw

from netspec import checkpoint
from tests.helpers import ROOT, run_cli


def draw_seven(path, ink: int, paper: int, size=(200, 200), mode="L"):
    img = Image.new(mode, size, paper if mode == "L" else (paper,) * 3)
    w, h = size
    ImageDraw.Draw(img).line([(0.22 * w, 0.18 * h), (0.78 * w, 0.18 * h), (0.45 * w, 0.88 * h)],
                             fill=ink if mode == "L" else (ink,) * 3, width=int(0.11 * min(w, h)))
    img.save(path)
    return str(path)


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("digits")
    code, text, err = run_cli("train", str(ROOT / "specs" / "digits.yaml"), "--set", f"output.dir={out}")
    assert code == 0, err
    return out, text


def test_a_run_ends_with_one_summary_line(digits_run):
    out, text = digits_run
    lines = text.splitlines()
    metrics = [json.loads(json.dumps(r)) for r in checkpoint.load(str(out / "last.pt"))["metrics"]]
    best = max(metrics, key=lambda r: r["test_accuracy"])
    assert lines[-2] == f"best test accuracy {100 * best['test_accuracy']:.2f}% at epoch {best['epoch']}; " \
                        f"its checkpoint: {out / 'best.pt'}"
    assert lines[-1] == f"run folder: {out}"


def test_the_checkpoint_keeps_how_the_training_images_look(digits_run):
    stats = checkpoint.load(str(digits_run[0] / "best.pt"))["data_stats"]
    assert stats["dark_background"] > 0.9 and stats["aspect"] == 1.0 and stats["images"] == 359  # the test split: 20% of 1,797
    assert stats["low"] == 0.0 and stats["high"] == 1.0 and 0.2 < stats["channel_mean"][0] < 0.4


def test_dark_ink_on_white_paper_is_explained_and_invert_fixes_it(digits_run, tmp_path):
    best = str(digits_run[0] / "best.pt")
    photo = draw_seven(tmp_path / "seven.png", ink=0, paper=255, mode="RGB")
    code, out, err = run_cli("predict", best, photo, "--top", "1")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == f"{photo}: a 200x200 colour picture -> made grey -> resized to 8x8 -> values scaled to " \
                       "0..1 (ToTensor)"
    assert lines[2] == "  warning: it has a light background, but the training images have dark ones: the model " \
                       "has only seen the opposite"
    assert lines[3].startswith("  hint: invert it: add `--set data.predict_transform=[Invert]` to the command")

    code, out, err = run_cli("predict", best, photo, "--top", "1", "--set", "data.predict_transform=[Invert]")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert "made grey -> inverted (Invert): light becomes dark -> resized to 8x8" in lines[0]
    assert lines[1].endswith("  7") and len(lines) == 2  # no warning left


def test_predict_warns_in_chinese_and_in_json(digits_run, tmp_path):
    best = str(digits_run[0] / "best.pt")
    photo = draw_seven(tmp_path / "seven.png", ink=0, paper=255)
    code, out, _ = run_cli("--lang", "zh", "predict", best, photo, "--format", "json")
    result = json.loads(out)[0]
    assert code == 0 and result["prepared"][0] == "一张 200x200 的灰度图片"
    assert "背景" in result["warnings"][0]["message"] and "Invert" in result["warnings"][0]["hint"]


def test_a_picture_of_another_shape_is_said_to_be_squeezed(digits_run, tmp_path):
    best = str(digits_run[0] / "best.pt")
    wide = draw_seven(tmp_path / "wide.png", ink=255, paper=0, size=(400, 100))
    code, out, _ = run_cli("predict", best, wide, "--top", "1")
    assert code == 0
    assert "resized to 8x8, squeezed out of shape" in out.splitlines()[0]
    assert "warning: it is 4.00 times as wide as it is high; the training images are 1.00: it is squeezed to fit" \
        in out


def test_an_image_like_the_training_data_gets_no_warning(digits_run, tmp_path):
    from netspec.data import load_data

    image, label = load_data({"dataset": "digits"}, (1, 8, 8)).test[0]  # a test scan, saved as a picture
    Image.fromarray((image[0] * 255).round().byte().numpy(), "L").save(tmp_path / "scan.png")
    code, out, _ = run_cli("predict", str(digits_run[0] / "best.pt"), str(tmp_path / "scan.png"), "--top", "1")
    assert code == 0 and "warning" not in out and out.splitlines()[1].endswith(f"  {int(label)}")


@pytest.mark.parametrize("argv", [["check", "specs/cifar.yaml", "specs/cifar.yaml", "specs/vgg16.yaml"],
                                  ["train", "specs/digits.yaml", "--set", "train.epochs=3"]])
def test_a_closed_pipe_ends_the_command_quietly(tmp_path, argv):
    argv = argv + (["--set", f"output.dir={tmp_path / 'run'}"] if argv[0] == "train" else [])
    command = [sys.executable, "-m", "netspec", *argv]
    head = subprocess.run(" ".join(f"'{a}'" for a in command) + " | head -2; echo rc=${PIPESTATUS[0]}",
                          shell=True, executable="/bin/bash", capture_output=True, text=True, cwd=ROOT)
    assert head.stderr == ""
    lines = head.stdout.splitlines()
    assert len(lines) == 3
    if argv[0] == "train":  # each line is flushed: the next after head has gone ends the run; what finished
        assert lines[-1] == "rc=141" and (tmp_path / "run" / "last.pt").exists()  # is saved and resumable
    else:  # a check's output may fit the pipe before head goes: then nothing is refused
        assert lines[-1] in ("rc=0", "rc=141")
