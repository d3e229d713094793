"""The resource guard: a model too big for this machine is refused before anything is allocated."""
import subprocess
import sys


import netspec
from netspec.guard import memory_problem
from tests.helpers import ROOT, run_cli, spec

HUGE = spec([{"Linear": 1_000_000}], input_shape=[1_000_000])  # 10^12 weights: 3.6 TiB


def test_check_refuses_a_model_that_cannot_fit_and_says_how_much_it_needs():
    (e,) = netspec.check(HUGE).errors
    assert e.message.startswith("the model needs 3.6 TiB to hold its weights (1,000,001,000,000 parameters), but "
                                "only ")
    assert "of memory is available; Linear `linear_1` alone has 1,000,001,000,000" in e.message
    assert e.path == ("model", "layers", 0) and "--max-params" in e.hints[1]


def test_build_and_train_refuse_it_without_allocating(tmp_path):
    code = ("import resource, netspec, tests.helpers as h\n"
            "try:\n    netspec.build(h.spec([{'Linear': 1000000}], input_shape=[1000000]))\n"
            "except netspec.NetspecError as e:\n    print('refused', e.problems[0].message[:31])\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    refused, peak_mib = r.stdout.splitlines()
    assert refused.startswith("refused the model needs 3.6 TiB") and int(peak_mib) < 1500
    f = tmp_path / "huge.yaml"
    f.write_text("netspec: 1\nmodel:\n  input: [1000000]\n  layers:\n    - Linear: 1000000\ndata: {dataset: digits}\n"
                 f"output: {{dir: {tmp_path / 'run'}}}\n")
    code, out, err = run_cli("train", str(f))
    assert code == 1 and "the model needs 3.6 TiB" in err and not (tmp_path / "run").exists()


def test_max_params_overrides_the_guard_and_also_limits():
    assert netspec.check(HUGE, max_params=2 * 10**12).valid
    small = spec([{"Linear": 100}], input_shape=[100])
    (e,) = netspec.check(small, max_params=1000).errors
    assert "but only 3.9 KiB is allowed" in e.message
    code, out, _ = run_cli("check", str(ROOT / "specs" / "cifar.yaml"), "--max-params", "62006")
    assert code == 0


def test_the_limit_is_the_memory_available():
    report = netspec.check(spec([{"Linear": 100}], input_shape=[100]))
    assert memory_problem(report, limit=40_400) is None  # 10,100 weights of 4 bytes
    problem = memory_problem(report, limit=40_399)
    assert problem is not None and "39.5 KiB to hold its weights" in problem.message
