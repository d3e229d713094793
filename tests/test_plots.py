"""Pictures of training: every run leaves curves.png; `netspec plot` overlays runs with a legend of their
names; `netspec eval --plot` draws the confusion matrix with the class names."""
import pytest
from PIL import Image

from tests.helpers import ROOT, run_cli


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    for name, optimizer in (("adam", "{Adam: {lr: 0.002}}"), ("sgd", "{SGD: {lr: 0.05}}")):
        code, _, err = run_cli("train", str(ROOT / "specs" / "digits.yaml"), "--set", f"output.dir={base / name}",
                               "--set", "train.epochs=3", "--set", f"train.optimizer={optimizer}")
        assert code == 0, err
    return base / "adam", base / "sgd"


def test_a_run_leaves_its_curves(two_runs):
    for run in two_runs:
        with Image.open(run / "curves.png") as img:
            assert img.format == "PNG" and img.width > 800 and img.height > 250
        assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]


def test_plot_overlays_runs_with_their_names(two_runs, tmp_path):
    out = tmp_path / "compare.svg"
    code, said, err = run_cli("plot", *map(str, two_runs), "-o", str(out))
    assert code == 0 and err == "" and str(out) in said
    svg = out.read_text()
    for words in ("adam: train", "adam: test", "sgd: train", "sgd: test", "test accuracy", "learning rate", "epoch"):
        assert words in svg, words
    png = tmp_path / "compare.png"
    assert run_cli("plot", *map(str, two_runs), "-o", str(png))[0] == 0
    with Image.open(png) as img:
        assert img.format == "PNG"


def test_eval_draws_the_confusion_matrix_with_the_class_names(two_runs, tmp_path):
    out = tmp_path / "confusion.svg"
    code, said, err = run_cli("eval", str(two_runs[0] / "best.pt"), "--plot", str(out))
    assert code == 0, err
    svg = out.read_text()
    assert "predicted class" in svg and "true class" in svg and all(f">{d}<" in svg or f"{d}" in svg for d in "0123456789")


def test_bad_plot_requests_are_one_message(two_runs, tmp_path):
    code, _, err = run_cli("plot", str(tmp_path), "-o", str(tmp_path / "x.png"))
    assert code == 2 and "has no metrics.csv" in err and not (tmp_path / "x.png").exists()
    code, _, err = run_cli("plot", str(two_runs[0]), "-o", str(tmp_path / "x.gif"))
    assert code == 2 and ".png, .svg or .pdf" in err and not (tmp_path / "x.gif").exists()


@pytest.mark.parametrize("epochs", [1, 3, 60])
def test_the_epoch_axes_count_whole_epochs(epochs, monkeypatch, tmp_path):
    from netspec import plots

    drawn = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: drawn.append(fig))
    rows = [{"epoch": float(e), "train_loss": 2 / e, "test_loss": 2.2 / e, "test_accuracy": 0.1 + e / 100,
             "lr": 0.001} for e in range(1, epochs + 1)]
    plots.curves([("run", rows)], str(tmp_path / "curves.png"))
    fig = drawn[0]
    fig.draw_without_rendering()
    for ax in fig.axes:
        lo, hi = ax.get_xlim()
        ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
        assert 1 <= len(ticks) <= 10 and all(t == int(t) for t in ticks), ticks  # never 0.96, 1.02, 2.5


def test_a_constant_learning_rate_is_drawn_from_zero(monkeypatch, tmp_path):
    from netspec import plots

    drawn = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: drawn.append(fig))
    rows = [{"epoch": float(e), "train_loss": 1.0, "test_loss": 1.0, "test_accuracy": 0.5, "lr": 0.002}
            for e in (1, 2, 3)]
    plots.curves([("run", rows)], str(tmp_path / "curves.png"))
    rate = drawn[0].axes[2]
    assert rate.get_ylim() == (0, 0.003)  # not 0.0019 to 0.0021 in steps of 0.000025
