"""Atomic writes: the new bytes reach the disk (fsync) before a rename puts them in place, then the folder is
synced; a failure at any step before the rename leaves the old file and no temporary file behind."""
import os
import stat

import pytest

from netspec.atomic import atomic_write, remove_leftovers

NEW = b"new contents\n" * 1000


def _in_pieces(f):
    """Small writes, so that the last of them waits in the file object's buffer until it is flushed."""
    for i in range(0, len(NEW), 100):
        f.write(NEW[i:i + 100])


@pytest.fixture
def calls(monkeypatch):
    """os.fsync and os.replace, each call recorded with what it was given (and what the descriptor holds)."""
    seen = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        st = os.fstat(fd)
        kind = "dir" if stat.S_ISDIR(st.st_mode) else "file"
        seen.append(("fsync", kind, st.st_ino, st.st_size, None if kind == "dir" else os.pread(fd, 1 << 20, 0)))
        return real_fsync(fd)

    def replace(src, dst):
        seen.append(("replace", os.stat(src).st_ino, os.fspath(src), os.fspath(dst)))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return seen


def test_the_file_is_written_and_synced_then_renamed_then_the_folder_synced(tmp_path, calls):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    atomic_write(str(target), _in_pieces)

    assert [" ".join(map(str, c[:2])) if c[0] == "fsync" else c[0] for c in calls] == \
        ["fsync file", "replace", "fsync dir"], calls
    (_, _, synced_ino, synced_size, synced_bytes), rename, (_, _, dir_ino, _, _) = calls
    assert synced_size == len(NEW) and synced_bytes == NEW  # flushed before the fsync: all of it on the descriptor
    _, renamed_ino, src, dst = rename
    assert renamed_ino == synced_ino  # the file renamed is the one synced
    assert dst == os.path.realpath(target) and os.path.dirname(src) == os.path.realpath(tmp_path) and src != dst
    assert dir_ino == os.stat(tmp_path).st_ino  # the folder that holds the new name
    assert target.read_bytes() == NEW
    assert os.stat(target).st_ino == synced_ino  # renamed into place, not copied over the old file
    assert os.listdir(tmp_path) == ["out.bin"]


def test_a_reader_of_the_old_file_keeps_reading_the_old_contents(tmp_path):
    target = tmp_path / "metrics.csv"
    target.write_bytes(b"old contents\n")
    old_ino = os.stat(target).st_ino
    with open(target, "rb") as reader:
        atomic_write(str(target), lambda f: f.write(NEW))
        assert reader.read() == b"old contents\n"
    assert target.read_bytes() == NEW
    assert os.stat(target).st_ino != old_ino


def _fail_halfway(f):
    f.write(NEW[:100])
    raise OSError("disk full")


@pytest.mark.parametrize("where", ["write", "fsync", "replace"])
def test_a_failure_before_the_rename_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch, where):
    target = tmp_path / "last.pt"
    target.write_bytes(b"old")
    write = _fail_halfway if where == "write" else (lambda f: f.write(NEW))
    if where != "write":
        def fail(*args):
            raise OSError(f"{where} failed")
        monkeypatch.setattr(os, where, fail)
    with pytest.raises(OSError, match="disk full" if where == "write" else f"{where} failed"):
        atomic_write(str(target), write)
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["last.pt"]


def test_a_new_file_appears_whole_with_the_umasks_permissions(tmp_path, calls):
    target = tmp_path / "spec.yaml"
    atomic_write(str(target), _in_pieces)
    assert target.read_bytes() == NEW and os.listdir(tmp_path) == ["spec.yaml"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o666 & ~umask
    assert [c[0] for c in calls] == ["fsync", "replace", "fsync"] and calls[0][4] == NEW


def test_the_replaced_file_keeps_its_permissions(tmp_path):
    target = tmp_path / "best.pt"
    target.write_bytes(b"old")
    os.chmod(target, 0o640)
    atomic_write(str(target), lambda f: f.write(NEW))
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640 and target.read_bytes() == NEW


def test_a_symbolic_link_is_written_through(tmp_path):
    real = tmp_path / "real.yaml"
    real.write_bytes(b"old")
    link = tmp_path / "link.yaml"
    link.symlink_to(real.name)
    atomic_write(str(link), lambda f: f.write(NEW))
    assert link.is_symlink() and os.readlink(link) == real.name
    assert real.read_bytes() == NEW
    assert sorted(os.listdir(tmp_path)) == ["link.yaml", "real.yaml"]


def test_leftovers_of_a_killed_write_are_removed_and_nothing_else(tmp_path):
    names = [".last.pt.abc123.tmp", ".metrics.csv.x.tmp", "last.pt", ".other.pt.abc.tmp", ".last.pt.abc",
             "keep.tmp"]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    remove_leftovers(str(tmp_path), ("last.pt", "metrics.csv"))
    assert sorted(os.listdir(tmp_path)) == sorted(names[2:])
