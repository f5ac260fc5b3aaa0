"""Atomic writes: the new content completely, or the old file untouched."""

import os
import stat
import sys

import pytest

from atomic import write_atomically


def test_writes_and_replaces(tmp_path):
    path = tmp_path / "file.bin"
    path.write_bytes(b"old")
    write_atomically(path, lambda file: file.write(b"new content"))
    assert path.read_bytes() == b"new content"
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]


def test_failure_midway_keeps_the_old_file(tmp_path):
    path = tmp_path / "file.bin"
    path.write_bytes(b"old")

    def fail_halfway(file):
        file.write(b"half of the ne")
        raise KeyboardInterrupt  # Ctrl-C in the middle of saving

    with pytest.raises(KeyboardInterrupt):
        write_atomically(path, fail_halfway)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_new_files_get_the_usual_permissions_and_old_ones_keep_theirs(tmp_path):
    fresh = write_atomically(tmp_path / "fresh.bin", lambda file: file.write(b"x"))
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~umask  # not the 0o600 of a temporary file
    existing = tmp_path / "existing.bin"
    existing.write_bytes(b"old")
    existing.chmod(0o640)
    write_atomically(existing, lambda file: file.write(b"new"))
    assert stat.S_IMODE(existing.stat().st_mode) == 0o640
