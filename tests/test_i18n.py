"""Messages in two languages: every message id in the code has a Chinese translation in the shipped
catalogue, ids are plain strings Babel can extract, and the language follows --lang, NETSPEC_LANG or
the locale."""
import ast
import os
import pickle
import subprocess
import sys

import pytest

from netspec import i18n
from netspec.i18n import Msg, _, tr
from tests.helpers import ROOT, run_cli
from tools import i18n as catalogs

SOURCES = sorted((ROOT / "netspec").rglob("*.py"))


def test_every_message_has_a_translation_and_the_shipped_catalogue_is_compiled():
    assert catalogs.problems() == []


def _message_calls(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("_", "N_"):
            yield node


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_message_ids_are_plain_strings_that_the_catalogue_tool_finds(path):
    """An f-string id cannot be looked up; a _() inside an f-string is missed by extraction."""
    tree = ast.parse(path.read_text())
    extracted = set(catalogs.extract())
    for call in _message_calls(tree):
        where = f"{path.name}:{call.lineno}"
        assert len(call.args) == 1 and isinstance(call.args[0], ast.Constant) \
            and isinstance(call.args[0].value, str), f"{where}: the message id must be one plain string"
        assert call.args[0].value in extracted, f"{where}: Babel does not see {call.args[0].value!r}"
        for kw in call.keywords:
            assert not isinstance(kw.value, ast.JoinedStr), f"{where}: an f-string argument; use a field"


def test_a_msg_is_its_english_text_and_survives_pickling():
    m = _("the {name} files are not in {folder}", name="MNIST", folder="data/MNIST/raw")
    assert m == "the MNIST files are not in data/MNIST/raw" and isinstance(m, str)
    back = pickle.loads(pickle.dumps(m))
    assert (back.id, back.args) == (m.id, m.args)


def test_arguments_that_are_messages_are_translated_too():
    hint = _("did you mean {names}?", names=i18n.either(["Conv1d", "Conv2d", "Conv3d"]))
    assert tr(hint, "en") == "did you mean Conv1d or Conv2d or Conv3d?"
    assert tr(hint, "zh") == "你是不是想写 Conv1d 或 Conv2d 或 Conv3d？"
    assert tr("plain text", "zh") == "plain text"


@pytest.mark.parametrize("choice, environ, want", [
    (None, {}, "en"),
    (None, {"LANG": "zh_CN.UTF-8"}, "zh"),
    (None, {"LANG": "en_US.UTF-8", "LC_ALL": "zh_TW.UTF-8"}, "zh"),
    (None, {"LANG": "zh_CN.UTF-8", "LC_ALL": "C"}, "en"),
    (None, {"LANG": "zh_CN.UTF-8", "NETSPEC_LANG": "en"}, "en"),
    (None, {"NETSPEC_LANG": "zh"}, "zh"),
    ("en", {"NETSPEC_LANG": "zh"}, "en"),
    ("zh", {"LANG": "C"}, "zh"),
])
def test_the_language_follows_the_option_then_netspec_lang_then_the_locale(choice, environ, want):
    assert i18n.language(choice, environ) == want


BAD = "netspec: 1\nmodel:\n  input: [3, 8, 8]\n  layers:\n    - Conv2D: {out_channels: 4, kernel_size: 3}\n"


@pytest.mark.parametrize("how", ["option", "option after", "NETSPEC_LANG", "LANG"])
def test_errors_are_in_chinese_when_asked(tmp_path, monkeypatch, how):
    spec = tmp_path / "bad.yaml"
    spec.write_text(BAD)
    for var in ("NETSPEC_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    argv = ["check", str(spec)]
    if how == "option":
        argv = ["--lang", "zh"] + argv
    elif how == "option after":
        argv += ["--lang=zh"]
    else:
        monkeypatch.setenv(how, "zh_CN.UTF-8")
    code, out, err = run_cli(*argv)
    assert code == 1 and out == ""
    assert f"{spec}:5:7: 错误: 未知的层类型 `Conv2D`" in err
    assert "提示: 你是不是想写 Conv2d？" in err
    assert err.endswith(f"{spec}: 共 1 个错误\n")


def test_english_stays_the_default_and_the_language_does_not_leak_between_calls(tmp_path, monkeypatch):
    monkeypatch.delenv("NETSPEC_LANG", raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    spec = tmp_path / "bad.yaml"
    spec.write_text(BAD)
    assert "错误" in run_cli("--lang", "zh", "check", str(spec))[2]
    code, _, err = run_cli("check", str(spec))
    assert code == 1 and "error: unknown layer type `Conv2D`" in err and "错误" not in err


def test_help_and_usage_errors_are_in_chinese():
    code, out, _ = run_cli("--lang", "zh", "--help")
    assert code == 0 and "用法：netspec" in out and "显示此帮助信息并退出" in out
    assert "检查规格文件：给出带 文件:行:列 的错误，或一张形状表" in out
    code, _, err = run_cli("--lang", "zh", "check")
    assert code == 2 and "netspec check: 错误: 缺少以下必需的参数：SPEC" in err
    code, _, err = run_cli("--lang", "zh", "train")
    assert code == 2 and err == "netspec train: 请给出一个规格文件 SPEC，或者 --resume RUN_DIR（二者只能选一个）\n"
    code, out, _ = run_cli("--help")
    assert "show this help message and exit" in out


def test_an_unknown_language_is_bad_usage():
    code, _, err = run_cli("--lang", "fr", "check", "specs/cifar.yaml")
    assert code == 2 and "invalid choice: 'fr'" in err


def test_the_installed_command_speaks_chinese_from_the_locale():
    env = dict(os.environ, LANG="zh_CN.UTF-8", LC_ALL="")
    env.pop("NETSPEC_LANG", None)
    done = subprocess.run([sys.executable, "-m", "netspec", "layers", "Conv2D"], capture_output=True, text=True,
                          env=env, cwd=ROOT)
    assert done.returncode == 2
    assert done.stderr == "netspec: 错误: 未知的层类型 `Conv2D`\n  提示: 你是不是想写 Conv2d？\n"
