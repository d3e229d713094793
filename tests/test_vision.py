"""torchvision's classic models as layers: shapes and parameters from the meta device, cached, and agreeing
with the real model; weights are never downloaded behind the user's back."""
import json
import os
import subprocess
import sys

import pytest
import torch

import netspec
from tests.helpers import ROOT, run_cli, spec


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    """Each test starts with an empty shape cache of its own."""
    from netspec.layers import visionprobe

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    visionprobe._cache.cache_clear()
    yield
    visionprobe._cache.cache_clear()


@pytest.mark.parametrize("model,shape", [("resnet18", [3, 64, 64]), ("mobilenet_v3_small", [3, 32, 32]),
                                         ("squeezenet1_1", [3, 48, 48]), ("vgg11", [3, 32, 32]),
                                         ("regnet_x_400mf", [3, 64, 64]), ("efficientnet_b0", [3, 64, 64])])
def test_a_model_alone_agrees_with_torchvision(model, shape):
    report = netspec.check(spec([{f"torchvision.{model}": {"num_classes": 7, "weights": None}}], input_shape=shape))
    assert report.valid, [p.message for p in report.errors]
    net = netspec.build(report).eval()
    with torch.no_grad():
        out = net(torch.zeros(2, *shape))
    assert tuple(out.shape) == (2, 7) == (2, *report.output.shape)
    assert sum(p.numel() for p in net.parameters()) == report.total_params
    assert report.total_macs > 0


def test_a_model_followed_by_more_layers():
    report = netspec.check(spec([{"torchvision.resnet18": 64}, "ReLU", {"Linear": 10}], input_shape=[3, 32, 32]))
    assert report.valid and report.output.shape == (10,)
    assert report.layers[0].name == "torchvision_resnet18_1"
    model = netspec.build(report).eval()
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    assert sum(p.numel() for p in model.parameters()) == report.total_params


def _no_torch_probe(f, env):
    probe = ("import sys\nfrom netspec.cli import main\nrc = main(['check', sys.argv[1]])\n"
             "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH')\nsys.exit(rc)\n")
    return subprocess.run([sys.executable, "-c", probe, str(f)], cwd=ROOT, env=env, capture_output=True, text=True)


def test_common_inputs_need_no_torch_at_all(tmp_path):
    f = tmp_path / "v.yaml"
    f.write_text("netspec: 1\nmodel:\n  input: [3, 224, 224]\n  layers:\n    - torchvision.resnet50: 10\n")
    r = _no_torch_probe(f, dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache")))
    assert r.returncode == 0 and r.stdout.splitlines()[-1] == "NO-TORCH", r.stderr
    assert "23,528,522" in r.stdout


def test_the_shipped_table_agrees_with_torchvision():
    from netspec.layers import visionprobe

    shipped = visionprobe._shipped()
    assert len(shipped) >= 1800
    for key in sorted(shipped)[::311]:  # a spread of models, inputs and class counts
        model, kwargs, shape = json.loads(key)
        assert shipped[key] == visionprobe._measure(model, kwargs, tuple(shape)), key


@pytest.mark.parametrize("model,shape,classes", [("resnet50", [3, 224, 224], 7), ("squeezenet1_1", [3, 96, 96], 3),
                                                 ("inception_v3", [3, 299, 299], 1), ("vit_b_16", [3, 224, 224], 37),
                                                 ("googlenet", [3, 64, 64], 250), ("alexnet", [3, 32, 32], 5),
                                                 ("swin_t", [3, 128, 128], 4096)])
def test_a_class_count_the_table_lacks_is_answered_from_it_as_torchvision_builds_it(model, shape, classes):
    from netspec.layers import visionprobe

    kwargs = {"num_classes": classes}
    answer = visionprobe._any_classes(model, kwargs, tuple(shape))
    assert answer is not None and cache_key_missing(visionprobe, model, kwargs, shape)
    assert answer == visionprobe._measure(model, kwargs, tuple(shape))


def cache_key_missing(visionprobe, model, kwargs, shape) -> bool:
    return visionprobe.cache_key(model, kwargs, tuple(shape)) not in visionprobe._shipped()


def test_other_arguments_or_inputs_are_not_guessed_from_the_table():
    from netspec.layers import visionprobe

    assert visionprobe._any_classes("resnet18", {"num_classes": 7}, (3, 100, 100)) is None  # an input it lacks
    assert visionprobe._any_classes("resnet18", {"num_classes": 7, "width_per_group": 32}, (3, 224, 224)) is None
    assert visionprobe._any_classes("vit_b_16", {"num_classes": 7, "image_size": 64}, (3, 64, 64)) is None


@pytest.mark.parametrize("entry,expected", [("torchvision.resnet50: 7", "23,522,375"),
                                            ("torchvision.resnet18: {weights: DEFAULT}", "11,689,512"),
                                            ("torchvision.resnet18: {weights: IMAGENET1K_V3}",
                                             "has no weights `IMAGENET1K_V3`")])
def test_any_class_count_and_the_weights_need_no_torch(tmp_path, entry, expected):
    f = tmp_path / "v.yaml"
    f.write_text(f"netspec: 1\nmodel:\n  input: [3, 224, 224]\n  layers:\n    - {entry}\n")
    r = _no_torch_probe(f, dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache")))
    assert r.stdout.splitlines()[-1] == "NO-TORCH", r.stderr
    assert expected in r.stdout + r.stderr


def test_every_classification_model_of_torchvision_is_a_layer():
    import torchvision

    from netspec.layers import vision

    assert sorted(vision.MODELS) == sorted(torchvision.models.list_models(module=torchvision.models))


def test_the_shipped_weights_names_and_classes_are_torchvisions():
    import torchvision

    from netspec.layers import vision, visionprobe

    shipped = visionprobe._table()["weights"]
    assert sorted(shipped) == sorted(vision.MODELS)
    for model in vision.MODELS:
        enum = torchvision.models.get_model_weights(model)
        expected = {w.name: len(w.meta["categories"] or []) for w in enum}  # vgg16 IMAGENET1K_FEATURES: None
        assert shipped[model] == {**expected, "DEFAULT": expected[enum.DEFAULT.name]}, model


def test_a_check_measures_in_a_child_process_and_reads_the_cache_the_second_time(tmp_path):
    f = tmp_path / "v.yaml"
    f.write_text("netspec: 1\nmodel:\n  input: [3, 40, 40]\n  layers:\n    - torchvision.resnet18: 10\n")
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    first = _no_torch_probe(f, env)
    assert first.returncode == 0 and first.stdout.splitlines()[-1] == "NO-TORCH", first.stderr
    assert "11,181,642" in first.stdout
    (cache,) = (tmp_path / "cache" / "netspec").iterdir()
    entries = json.loads(cache.read_text())
    (key,) = [k for k in entries if '"resnet18"' in k]
    entries[key]["params"] = 1234  # what the second check shows if it reads the cache and measures nothing
    cache.write_text(json.dumps(entries))
    second = _no_torch_probe(f, env)
    assert second.stdout.splitlines()[-1] == "NO-TORCH" and "1,234" in second.stdout, second.stderr


@pytest.mark.parametrize("model,kwargs,shape", [("resnet18", {"num_classes": 3}, (3, 40, 40)),
                                                ("regnet_x_400mf", {}, (3, 50, 70)),  # built on the CPU
                                                ("alexnet", {"num_classes": 3}, (3, 16, 16)),  # too small
                                                ("resnet18", {"num_clases": 3}, (3, 40, 40))])  # a wrong argument
def test_the_child_process_measures_as_torch_with_its_compiler_does(model, kwargs, shape, monkeypatch):
    from netspec.layers import visionprobe

    expected = visionprobe._measure(model, kwargs, shape)
    assert "torch._dynamo" in sys.modules  # this process has torch's compiler, the child a stand-in
    monkeypatch.setattr(visionprobe, "_measure", lambda *a: pytest.fail("the child failed: measured in this process"))
    assert visionprobe._measure_apart(model, kwargs, shape) == expected


def test_when_the_child_process_fails_the_check_measures_in_its_own(monkeypatch):
    from netspec.layers import visionprobe

    expected = visionprobe._measure("resnet18", {}, (3, 40, 40))
    monkeypatch.setattr(visionprobe.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 1, "", "boom"))
    assert visionprobe._measure_apart("resnet18", {}, (3, 40, 40)) == expected
    monkeypatch.undo()
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    assert visionprobe._measure_apart("resnet18", {}, (3, 40, 40)) == expected


def test_with_the_stand_in_the_shipped_table_measures_the_same():
    """A spread of the table (all of it with --long, 4 minutes) measured as the child measures."""
    every = 1 if os.environ.get("NETSPEC_TEST_LONG") else 97
    probe = ("import json, sys\nfrom netspec.layers.measure import _without_the_compiler\n_without_the_compiler()\n"
             "from netspec.layers import visionprobe\nkeys = sorted(visionprobe._shipped())[::int(sys.argv[1])]\n"
             "for key in keys:\n    model, kwargs, shape = json.loads(key)\n"
             "    if visionprobe._measure(model, kwargs, tuple(shape)) != visionprobe._shipped()[key]: print('DIFF', key)\n"
             "print(len(keys), 'measured;', 'the stand-in' if 'optimize' not in dir(sys.modules['torch._dynamo']) "
             "else 'the real compiler')\n")
    r = subprocess.run([sys.executable, "-c", probe, str(every)], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    from netspec.layers import visionprobe

    assert r.stdout.splitlines() == [f"{len(range(0, len(visionprobe._shipped()), every))} measured; the stand-in"]


def test_the_stand_in_for_torchs_compiler_answers_two_calls_and_refuses_the_rest():
    probe = ("from netspec.layers.measure import _without_the_compiler\n_without_the_compiler()\n"
             "import torch, torch._dynamo as d\nfrom torch._dynamo.utils import is_compile_supported\n"
             "f = lambda: 1\nassert d.disable(f, recursive=False, wrapping=False) is f\n"
             "assert is_compile_supported('cpu') is False\nd.optimize\n")
    r = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.splitlines()[-1] == (
        "AttributeError: torch._dynamo.optimize: not in netspec's stand-in for the compiler")


def test_an_input_too_small_for_the_model_is_a_located_error():
    (e,) = netspec.check(spec([{"torchvision.alexnet": 10}], input_shape=[3, 16, 16])).errors
    assert e.message.startswith("torchvision.alexnet cannot take an input of (N, 3, 16, 16)")
    assert e.path == ("model", "layers", 0) and "224" in e.hints[0]


def test_weights_names_and_classes_are_checked_without_downloading():
    (e,) = netspec.check(spec([{"torchvision.resnet18": {"weights": "IMAGENET1K_V9"}}], input_shape=[3, 64, 64])).errors
    assert e.message == "torchvision.resnet18 has no weights `IMAGENET1K_V9`" and "IMAGENET1K_V1" in e.hints[0]
    (e,) = netspec.check(spec([{"torchvision.resnet18": {"weights": "DEFAULT", "num_classes": 10}}],
                              input_shape=[3, 64, 64])).errors
    assert "have 1000 classes, but num_classes is 10" in e.message
    assert netspec.check(spec([{"torchvision.resnet18": {"weights": "DEFAULT"}}], input_shape=[3, 64, 64])).valid


def test_weights_that_cannot_be_downloaded_say_where_to_put_the_file(monkeypatch, tmp_path):
    import torchvision
    from urllib.error import URLError

    def offline(*args, **kwargs):
        raise URLError("no network")

    monkeypatch.setattr(torchvision.models._api.WeightsEnum, "get_state_dict", offline)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(netspec.NetspecError) as e:
        netspec.build(spec([{"torchvision.resnet18": {"weights": "IMAGENET1K_V1"}}], input_shape=[3, 64, 64]))
    (p,) = e.value.problems
    assert p.message.startswith("the IMAGENET1K_V1 weights of torchvision.resnet18 could not be loaded")
    assert str(tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth") in p.hints[0]


def test_unknown_model_names_get_did_you_mean():
    code, _, err = run_cli("layers", "torchvision.resnet19")
    assert code == 2 and "did you mean torchvision.resnet18" in err
    (e,) = netspec.check(spec([{"torchvision.resnt18": 10}], input_shape=[3, 64, 64])).errors
    assert "unknown layer type `torchvision.resnt18`" in e.message and "torchvision.resnet18" in e.hints[0]


def test_activation_memory_counts_the_model_inside():
    report = netspec.check(spec([{"torchvision.squeezenet1_1": {"num_classes": 5}}], input_shape=[3, 48, 48]))
    net = netspec.build(report).eval()
    kept = []
    for m in net.modules():
        if not list(m.children()):
            m.register_forward_hook(lambda m, i, o: kept.append(o.numel()))
    with torch.no_grad():
        net(torch.zeros(1, 3, 48, 48))
    assert report.activation_bytes == 4 * sum(kept) > 4 * 5


def test_the_shipped_vgg16_spec_is_torchvisions_vgg16_with_10_classes():
    """specs/vgg16.yaml, the seed's classic model: 134,301,514 parameters, as torchvision builds it."""
    import torchvision

    report = netspec.check(str(ROOT / "specs" / "vgg16.yaml"))
    with torch.device("meta"):
        reference = torchvision.models.vgg16(num_classes=10)
    assert report.total_params == 134_301_514 == sum(p.numel() for p in reference.parameters())
    assert report.output.shape == (10,)


@pytest.mark.parametrize("enabled", [True, False])
def test_torch_is_imported_with_the_collector_paused_and_left_as_it_was(enabled, monkeypatch):
    import gc

    import torchvision

    from netspec.heavy import import_torch

    (gc.enable if enabled else gc.disable)()
    seen = []
    monkeypatch.setattr(gc, "disable", lambda real=gc.disable: (seen.append("disable"), real())[1])
    try:
        assert import_torch() is torch and import_torch(vision=True) is torchvision
        assert gc.isenabled() is enabled and seen == ["disable", "disable"]
    finally:
        gc.enable()


@pytest.mark.parametrize("model", ["resnet18", "vit_b_16", "squeezenet1_1"])
@pytest.mark.parametrize("channels", [1, 4])
def test_an_input_without_3_channels_is_refused_as_torch_refuses_it(model, channels):
    from netspec.layers import visionprobe

    assert "error" in visionprobe._measure(model, {}, (channels, 224, 224))  # torch's own verdict
    (e,) = netspec.check(spec([{f"torchvision.{model}": 10}], input_shape=[channels, 224, 224])).errors
    assert e.message.startswith(f"torchvision.{model} takes colour images of 3 channels, but its input has {channels}")
    assert e.hints == ("give model.input 3 channels ([3, 224, 224]), or put a Conv2d with out_channels: 3 before "
                       "the model",)


def test_an_unknown_argument_is_named_with_did_you_mean():
    (e,) = netspec.check(spec([{"torchvision.mobilenet_v2": {"width_mul": 0.5}}], input_shape=[3, 64, 64])).errors
    assert (e.message, e.hints) == ("torchvision.mobilenet_v2 has no argument `width_mul`", ("did you mean width_mult?",))
    assert e.path == ("model", "layers", 0, "torchvision.mobilenet_v2", "width_mul") and e.at_key


@pytest.mark.parametrize("model,sizes", [("alexnet", {"smallest": 63}), ("inception_v3", {"smallest": 75}),
                                         ("resnet18", {"smallest": 1}), ("vit_b_16", {"exactly": 224})])
def test_the_shipped_input_sizes_are_torchvisions(model, sizes):
    from netspec.layers import visionprobe

    assert visionprobe._table()["sizes"][model] == sizes
    if "smallest" in sizes:
        s = sizes["smallest"]
        assert "error" not in visionprobe._measure(model, {}, (3, s, s))
        assert s == 1 or "error" in visionprobe._measure(model, {}, (3, s - 1, s - 1))
    else:
        e = sizes["exactly"]
        assert [("error" in visionprobe._measure(model, {}, (3, n, n))) for n in (e - 1, e, e + 1)] == [True, False, True]


def test_the_shipped_input_sizes_agree_with_the_shipped_shapes():
    from netspec.layers import vision, visionprobe

    table = visionprobe._table()
    assert sorted(table["sizes"]) == sorted(vision.MODELS)
    for key, answer in table["shapes"].items():
        model, _, (_, size, _) = json.loads(key)
        sizes = table["sizes"][model]
        taken = size == sizes["exactly"] if "exactly" in sizes else size >= sizes["smallest"]
        assert taken == ("error" not in answer), key


@pytest.mark.parametrize("model,shape,hint", [
    ("alexnet", [3, 40, 40], "torchvision.alexnet takes images of 63x63 or larger: make model.input at least "
                             "[3, 63, 63], or put `Upsample: {size: 224}` (the size it was made for) before the model"),
    ("vit_b_16", [3, 64, 64], "torchvision.vit_b_16 takes 224x224 images: set model.input to [3, 224, 224], or put "
                              "`Upsample: {size: 224}` before the model")])
def test_an_input_the_model_cannot_take_says_which_it_can(model, shape, hint):
    (e,) = netspec.check(spec([{f"torchvision.{model}": 10}], input_shape=shape)).errors
    assert e.hints == (hint,)


def test_the_child_process_imports_nothing_from_the_working_folder(tmp_path):
    """A torchvision.py in the folder netspec check runs in is not what the measuring child imports."""
    (tmp_path / "torchvision.py").write_text("open('PWNED', 'w').close()\nraise SystemExit(3)\n")
    (tmp_path / "v.yaml").write_text("netspec: 1\nmodel:\n  input: [3, 70, 70]\n  layers:\n    - torchvision.resnet18: 10\n")
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-P", "-c", "import sys\nfrom netspec.cli import main\n"
                        "rc = main(['check', 'v.yaml'])\nprint('TORCH' if 'torch' in sys.modules else 'NO-TORCH')\n"
                        "sys.exit(rc)"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.splitlines()[-1] == "NO-TORCH", r.stderr
    assert "11,181,642" in r.stdout and not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize("model,weights,size", [("googlenet", "DEFAULT", 224), ("inception_v3", "DEFAULT", 299),
                                                ("vit_b_16", "IMAGENET1K_SWAG_E2E_V1", 384),
                                                ("vit_b_16", "IMAGENET1K_V1", 224), ("resnet50", "IMAGENET1K_V2", 224),
                                                ("densenet121", "DEFAULT", 224)])
def test_a_model_with_weights_is_measured_as_torchvision_builds_it_for_them(model, weights, size):
    """torchvision publishes each weights' parameter count: the model netspec measures has it."""
    import torchvision

    enum = torchvision.models.get_model_weights(model)
    published = (enum.DEFAULT if weights == "DEFAULT" else enum[weights]).meta["num_params"]
    report = netspec.check(spec([{f"torchvision.{model}": {"weights": weights}}], input_shape=[3, size, size]),
                           max_params=10**9)  # not refused for this machine's memory (a ViT at 384: 350 MiB a sample)
    assert report.valid, [p.message for p in report.errors]
    assert report.total_params == published


def test_arguments_the_weights_forbid_are_a_located_error():
    (e,) = netspec.check(spec([{"torchvision.inception_v3": {"weights": "DEFAULT", "aux_logits": False}}],
                              input_shape=[3, 299, 299])).errors
    assert e.message == ("torchvision.inception_v3 does not accept these arguments: The parameter 'aux_logits' "
                         "expected value True but got False instead.")
    (e,) = netspec.check(spec([{"torchvision.vit_b_16": {"weights": "IMAGENET1K_SWAG_E2E_V1"}}],
                              input_shape=[3, 224, 224])).errors
    assert e.message.startswith("torchvision.vit_b_16 cannot take an input of (N, 3, 224, 224): Wrong image height! "
                                "Expected 384")


@pytest.mark.parametrize("entry,message,hint", [
    ({"vit_b_16": {"patch_size": 8}}, "torchvision.vit_b_16 sets `patch_size` itself", "leave patch_size out"),
    ({"vit_b_16": {"image_size": 60}}, "torchvision.vit_b_16 does not accept these arguments: Input shape indivisible "
     "by patch size!", "see torchvision's documentation"),
    ({"efficientnet_b0": {"stochastic_depth_prob": 5}}, "torchvision.efficientnet_b0 cannot take an input of "
     "(N, 3, 60, 60): drop probability has to be between 0 and 1", "check the model's arguments"),
])
def test_what_torchvision_refuses_is_a_located_error_never_an_internal_one(entry, message, hint):
    ((model, args),) = entry.items()
    (e,) = netspec.check(spec([{f"torchvision.{model}": args}], input_shape=[3, 60, 60])).errors
    assert e.message.startswith(message) and e.hints[0].startswith(hint)
