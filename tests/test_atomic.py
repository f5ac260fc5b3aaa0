"""Atomic writes: the new content completely, or the old file untouched."""

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
