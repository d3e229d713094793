"""The product does not depend on the host in silent ways (issue 18, item 4): a malformed torchrun
environment is an error, and the shipped torchvision table survives a local version suffix."""
import pytest

from netspec import distributed
from netspec.errors import UsageError
from netspec.layers import vision


@pytest.mark.parametrize("env,words", [
    ({"RANK": "1x", "WORLD_SIZE": "2"}, "the environment variable RANK is `1x`, not a whole number 0 or more"),
    ({"RANK": "0", "WORLD_SIZE": "two"}, "the environment variable WORLD_SIZE is `two`"),
    ({"RANK": "-1", "WORLD_SIZE": "2"}, "the environment variable RANK is `-1`"),
    ({"RANK": "2", "WORLD_SIZE": "2"}, "this is process RANK=2 of WORLD_SIZE=2, which cannot be"),
    ({"RANK": "0", "WORLD_SIZE": "0"}, "RANK=0 of WORLD_SIZE=0"),
])
def test_a_malformed_torchrun_environment_is_an_error_not_a_single_process_run(env, words, monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(UsageError) as e:
        distributed.from_env()
    assert words in e.value.problems[0].message and e.value.exit_code == 2


def test_a_well_formed_environment_gives_its_world(monkeypatch):
    for name, value in {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}.items():
        monkeypatch.setenv(name, value)
    assert distributed.from_env() == distributed.World(1, 2, 1, 2)
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(name)
    assert distributed.from_env() == distributed.World()


@pytest.fixture
def installed(monkeypatch):
    """Pretend another torchvision version is installed (the table is read afresh)."""
    import importlib.metadata

    real = importlib.metadata.version

    def pretend(value):
        monkeypatch.setattr(importlib.metadata, "version", lambda name: value if name == "torchvision" else real(name))
        vision._table.cache_clear()
        return vision._table()
    yield pretend
    monkeypatch.setattr(importlib.metadata, "version", real)
    vision._table.cache_clear()


def test_the_shipped_table_is_kept_for_a_local_version_suffix(installed, capsys):
    import json
    from importlib import resources

    shipped = json.loads(resources.files("netspec.layers").joinpath("torchvision_shapes.json").read_text())
    base = shipped["torchvision"].split("+")[0]
    assert installed(base + "+cpu")["shapes"] and installed(base)["shapes"]
    assert capsys.readouterr().err == ""


def test_another_release_drops_the_table_and_says_how_to_rebuild_it(installed, capsys):
    assert installed("0.1.0") == {}
    err = capsys.readouterr().err
    assert "this is 0.1.0" in err and "python tools/make_torchvision_shapes.py" in err
