"""Weights files: saved and loaded whole, refused cleanly when damaged or hostile, written atomically."""

import io
import os
import stat
import sys
import zipfile

import numpy as np
import pytest

from conv_network import ConvNetwork
from network import Network
from support import model_files
from support.model_files import ModelFileError, load_model, save_model, write_atomically

from conftest import memory_cap_works, run_with_memory_cap


def saved_arrays(tmp_path, model=None):
    """The arrays of a freshly saved small network, by name."""
    path = tmp_path / "good.npz"
    save_model(model or Network([6, 4, 3], seed=0), path)
    with np.load(path) as saved:
        return {name: saved[name] for name in saved.files}


def test_round_trip_of_both_kinds_of_model(tmp_path):
    for model in (Network([20, 16, 10], seed=1), ConvNetwork(conv_channels=(4, 6), hidden_sizes=(12,), seed=3)):
        model.parameters()[-1][...] = 0.25  # not the starting value, to see it come back
        save_model(model, tmp_path / "model.npz")
        loaded = load_model(tmp_path / "model.npz")
        assert type(loaded) is type(model) and loaded.image_shape == model.image_shape and loaded.seed == model.seed
        for a, b in zip(model.parameters(), loaded.parameters()):
            np.testing.assert_array_equal(a, b)
            assert b.dtype == np.float32
    with np.load(tmp_path / "model.npz", allow_pickle=False) as saved:
        assert str(saved["model_type"]) == "cnn" and float(saved["pixel_max"]) == 255  # the input scaling


def test_saved_file_is_a_plain_npz(tmp_path):
    save_model(Network([6, 4, 3], seed=7), tmp_path / "model.npz")
    names = zipfile.ZipFile(tmp_path / "model.npz").namelist()
    expected = ["format_version", "model_type", "layer_sizes", "image_shape", "pixel_max", "seed", "activation", "init",
                "W1", "b1", "W2", "b2"]  # fmt: skip
    assert sorted(names) == sorted(f"{name}.npy" for name in expected)


def test_a_model_with_nan_is_never_saved(tmp_path):
    path = tmp_path / "model.npz"
    save_model(Network([6, 4, 3], seed=0), path)
    before = path.read_bytes()
    broken = Network([6, 4, 3], seed=1)
    broken.weights[1][0, 0] = np.nan
    with pytest.raises(ModelFileError, match="NaN or inf"):
        save_model(broken, path)
    assert path.read_bytes() == before


def write_npz(path, arrays):
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a: a.update(W2=np.zeros((5, 3), np.float32)), r"W2 .*shape \(5, 3\).*\(4, 3\)"),
        (lambda a: a.pop("b1"), "lacks the array b1"),
        (
            lambda a: a.update(W1=np.array([{"not": "numbers"}], dtype=object)),
            "holds object values; weights files hold numbers and text only",
        ),
        (lambda a: a.update(format_version=np.array(99)), "newer version"),
        (lambda a: a.update(format_version=np.array("one")), "malformed format_version"),
        (lambda a: a.update(image_shape=np.array([2, 2])), "do not start with the 2x2 image's pixels"),
        (lambda a: a.update(image_shape=np.array([6])), "image_shape must be two sizes"),
        (lambda a: a.update(layer_sizes=np.array([6.0, np.inf, 3.0])), "layer_sizes must be positive whole numbers"),
        (lambda a: a.update(layer_sizes=np.array([6, -4, 3])), "layer_sizes must be positive whole numbers"),
        (lambda a: a.update(model_type=np.array("rnn")), "unknown type 'rnn'"),
        (lambda a: a.pop("model_type"), "lacks model_type"),
        (lambda a: a.update(W1=np.full((6, 4), np.inf, np.float32)), "NaN or inf weights"),
        (lambda a: a.update(W1=np.zeros((6, 4), np.int32)), "needs float values"),
        (lambda a: a.update(seed=np.array(-1)), "seed must be one whole number"),
        (lambda a: a.update(seed=np.array("abc")), "seed must be one whole number"),
        (lambda a: a.update(model_type=np.array("x" * 2000)), "model_type is 8,000 bytes, more than the 1,024 it may"),
        (lambda a: a.update(W1=np.zeros((6, 4), "m8[s]")), "W1 holds timedelta64"),
        (lambda a: a.update(layer_sizes=np.array([[6, 4, 3]])), None),  # as good as a flat list
        (
            lambda a: a.update(
                kernel_size=np.array([5, 5]),
                model_type=np.array("cnn"),
                conv_channels=np.array([2]),
                hidden_sizes=np.array([3]),
            ),
            "kernel_size must be one number",
        ),
        (lambda a: a.update(activation=np.array("softplus")), "activation must be one of relu, tanh, sigmoid"),
    ],
)
def test_a_bad_file_is_refused_with_a_message_naming_it(tmp_path, change, message):
    arrays = saved_arrays(tmp_path)
    change(arrays)
    path = write_npz(tmp_path / "bad.npz", arrays)
    if message is None:
        load_model(path)
        return
    with pytest.raises(ModelFileError, match=message) as error:
        load_model(path)
    assert "bad.npz" in str(error.value) and "0x" not in str(error.value)  # no internals such as <ast.BinOp at 0x...>


@pytest.mark.parametrize("content", [b"", b"not a zip file at all", b"PK\x03\x04broken", b"layer_sizes = 784, 10\n"])
def test_garbage_and_text_are_not_weights_files(tmp_path, content):
    path = tmp_path / "garbage.npz"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match="garbage.npz' is not a weights file of this project") as error:
        load_model(path)
    assert "pickle" not in str(error.value)  # the one unsafe thing is never suggested


def test_missing_file_folder_and_single_array(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        load_model(tmp_path / "nothing.npz")
    with pytest.raises(ModelFileError, match="is a folder"):
        load_model(tmp_path)
    np.save(tmp_path / "array.npy", np.zeros(3))
    with pytest.raises(ModelFileError, match="not a weights file"):
        load_model(tmp_path / "array.npy")


def patched(path, patch):
    """The file's bytes with `patch(content, zip_signature_offset, is_central_directory)` applied to every header."""
    content = bytearray(path.read_bytes())
    for signature, central in ((b"PK\x03\x04", False), (b"PK\x01\x02", True)):
        start = content.find(signature)
        while start != -1:
            patch(content, start, central)
            start = content.find(signature, start + 4)
    path.write_bytes(bytes(content))
    return path


def test_encrypted_and_unknown_compression_are_refused(tmp_path):
    saved_arrays(tmp_path)

    def encrypt(content, start, central):
        content[start + (8 if central else 6)] |= 1  # the "encrypted" flag bit

    def strange_method(content, start, central):
        content[start + (10 if central else 8)] = 99  # compression method 99, which zipfile cannot read

    encrypted = patched((tmp_path / "good.npz").rename(tmp_path / "encrypted.npz"), encrypt)
    with pytest.raises(ModelFileError, match="encrypted"):
        load_model(encrypted)
    saved_arrays(tmp_path)
    compressed = patched((tmp_path / "good.npz").rename(tmp_path / "compressed.npz"), strange_method)
    with pytest.raises(ModelFileError, match="compression method"):
        load_model(compressed)


def npz_with_members(path, members):
    """A zip archive holding `members`, {file name: bytes}, as np.savez would store them."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return path


def npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_a_member_that_is_not_an_array_or_lies_about_its_size(tmp_path):
    members = {f"{name}.npy": npy_bytes(array) for name, array in saved_arrays(tmp_path).items()}
    npz_with_members(tmp_path / "magic.npz", {**members, "W1.npy": b"hello, not an array"})
    with pytest.raises(ModelFileError, match="W1.npy is not a NumPy array"):
        load_model(tmp_path / "magic.npz")
    header = io.BytesIO()  # a header that declares 10^12 numbers, followed by twelve bytes
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (10**6, 10**6)})
    npz_with_members(tmp_path / "huge.npz", {**members, "W1.npy": header.getvalue() + b"\0" * 12})
    with pytest.raises(ModelFileError, match="damaged: W1 declares"):
        load_model(tmp_path / "huge.npz")


@memory_cap_works
def test_huge_declared_sizes_cost_no_memory(tmp_path):
    arrays = saved_arrays(tmp_path, Network([784, 16, 10], seed=0))
    hostile = {
        "wide.npz": {**arrays, "layer_sizes": np.array([784, 100_000, 10])},  # 78 million weights, declared
        "giant.npz": {**arrays, "layer_sizes": np.array([784, 10**9, 10])},
    }
    for name, content in hostile.items():
        write_npz(tmp_path / name, content)
    with zipfile.ZipFile(tmp_path / "padded.npz", "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            archive.writestr(f"{name}.npy", npy_bytes(array))
        with archive.open("extra.npy", "w") as member:  # 400 MB of zeros under a name the loader does not know
            header = io.BytesIO()
            np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (10**8,)})
            member.write(header.getvalue())
            for _ in range(100):
                member.write(bytes(4 << 20))
    code = (
        f"for name in ['wide.npz', 'giant.npz', 'padded.npz']:\n"
        f"    try:\n        model = load_model({str(tmp_path)!r} + '/' + name)\n        print(name, 'loaded')\n"
        "    except ModelFileError as error:\n        print(name, 'refused:', error)\n"
    )
    result = run_with_memory_cap(
        "from support.model_files import load_model, ModelFileError", code, extra_megabytes=250
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "wide.npz refused" in lines[0] and "needs float values of shape (784, 100000)" in lines[0]
    assert "giant.npz refused" in lines[1] and "more than 100,000,000 parameters" in lines[1]
    assert lines[2] == "padded.npz loaded"  # the unknown member was skipped, never read


def test_is_weights_file(tmp_path):
    save_model(Network([6, 4, 3]), tmp_path / "model.npz")
    (tmp_path / "notes.txt").write_text("my notes")
    assert model_files.is_weights_file(tmp_path / "model.npz")
    assert not model_files.is_weights_file(tmp_path / "notes.txt")
    assert not model_files.is_weights_file(tmp_path / "missing.npz")


# ----- atomic writes -------------------------------------------------------------------------------------


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


def test_a_failed_save_leaves_the_old_model_intact(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    save_model(Network([6, 4, 3], seed=0), path)
    before = path.read_bytes()

    def write_half_then_fail(file, **arrays):
        file.write(b"PK\x03\x04 half a file")
        raise OSError("No space left on device")

    monkeypatch.setattr(model_files.np, "savez", write_half_then_fail)
    with pytest.raises(OSError, match="No space"):
        save_model(Network([6, 4, 3], seed=1), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]  # no temporary file left behind


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits and symbolic links")
def test_permissions_read_only_files_and_symbolic_links(tmp_path):
    fresh = write_atomically(tmp_path / "fresh.bin", lambda file: file.write(b"x"))
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~umask  # not the 0o600 of a temporary file
    existing = tmp_path / "existing.bin"
    existing.write_bytes(b"old")
    existing.chmod(0o640)
    write_atomically(existing, lambda file: file.write(b"new"))
    assert stat.S_IMODE(existing.stat().st_mode) == 0o640
    existing.chmod(0o444)
    with pytest.raises(PermissionError, match="read-only"):
        write_atomically(existing, lambda file: file.write(b"newer"))
    assert existing.read_bytes() == b"new"
    link = tmp_path / "link.bin"
    link.symlink_to(fresh)
    write_atomically(link, lambda file: file.write(b"through the link"))
    assert link.is_symlink() and fresh.read_bytes() == b"through the link"


def test_an_older_file_without_a_seed_loads_with_the_seed_unknown(tmp_path):
    arrays = saved_arrays(tmp_path, Network([6, 4, 3], seed=9))
    del arrays["seed"]
    np.savez(tmp_path / "older.npz", **arrays)
    model = load_model(tmp_path / "older.npz")
    assert model.seed is None
    np.testing.assert_array_equal(model.weights[0], arrays["W1"])
    save_model(model, tmp_path / "again.npz")  # saved again without a seed, not with a made-up one
    assert "seed.npy" not in zipfile.ZipFile(tmp_path / "again.npz").namelist()


# ----- what the surroundings can do: special files, damaged members, odd headers --------------------------


def test_lzma_members_load_and_a_corrupted_member_is_one_clear_error(tmp_path):
    arrays = saved_arrays(tmp_path)
    with zipfile.ZipFile(tmp_path / "lzma.npz", "w", compression=zipfile.ZIP_LZMA) as archive:
        for name, array in arrays.items():
            archive.writestr(f"{name}.npy", npy_bytes(array))
    np.testing.assert_array_equal(load_model(tmp_path / "lzma.npz").weights[0], arrays["W1"])  # a valid zip
    content = bytearray((tmp_path / "lzma.npz").read_bytes())
    start = content.find(b"W1.npy") + 40  # inside the compressed data of W1
    content[start : start + 20] = bytes(20)
    (tmp_path / "broken.npz").write_bytes(bytes(content))
    with pytest.raises(ModelFileError, match="broken.npz' is damaged"):
        load_model(tmp_path / "broken.npz")


@pytest.mark.parametrize(
    "header",
    [
        "{'descr': '<f4', 'fortran_order': False, 'shape': (-1, -1), }",  # negative sizes whose product is 1
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2 + 3,), }",  # an expression, which NumPy refuses
        "{'descr': '<m8[s]', 'fortran_order': False, 'shape': (6, 4), }",  # durations, not numbers
        "{'descr': '<f4', 'fortran_order': False}",  # no shape at all
    ],
)
def test_odd_npy_headers_are_refused_in_plain_words(tmp_path, header):
    members = {f"{name}.npy": npy_bytes(array) for name, array in saved_arrays(tmp_path).items()}
    text = header.encode("latin1")
    padding = 64 - (10 + len(text) + 1) % 64
    raw = b"\x93NUMPY\x01\x00" + (len(text) + padding + 1).to_bytes(2, "little") + text + b" " * padding + b"\n"
    npz_with_members(tmp_path / "odd.npz", {**members, "W1.npy": raw + bytes(96)})
    with pytest.raises(ModelFileError) as error:
        load_model(tmp_path / "odd.npz")
    message = str(error.value)
    assert "odd.npz" in message and "ast." not in message and "0x" not in message and "unpack" not in message


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX-only")
def test_a_named_pipe_or_a_device_is_refused_without_reading_it(tmp_path):
    os.mkfifo(tmp_path / "pipe.npz")  # nobody writes into it: opening it to read would wait forever
    code = f"""
for path in [{str(tmp_path / "pipe.npz")!r}, "/dev/zero", "/dev/urandom"]:
    try:
        load_model(path)
    except ModelFileError as error:
        print(error)
    print(is_weights_file(path))
"""
    result = run_with_memory_cap("from support.model_files import ModelFileError, is_weights_file, load_model", code,
                                 extra_megabytes=100)  # fmt: skip
    lines = result.stdout.splitlines()
    assert lines[0].endswith("pipe.npz' is a named pipe, not a weights file"), result.stderr
    assert lines[2] == "'/dev/zero' is a device, not a weights file" and "device" in lines[4]
    assert lines[1] == lines[3] == lines[5] == "False"


def test_a_file_that_cannot_be_read_is_called_unreadable(tmp_path, monkeypatch):
    save_model(Network([6, 4, 3]), tmp_path / "model.npz")

    def refuse(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(model_files, "open_regular", refuse)  # so that it is refused for root too
    with pytest.raises(ModelFileError, match=r"cannot read '.*model.npz' \(Permission denied\)"):
        load_model(tmp_path / "model.npz")


def test_the_history_and_settings_of_a_run_come_back(tmp_path):
    history = [
        {"epoch": 1, "train_loss": 0.5, "train_accuracy": 0.8, "val_loss": None, "val_accuracy": None,
         "learning_rate": 0.1, "seconds": 1.5, "steps": 3, "clipped": 0, "step_losses": [0.7, 0.5, 0.3],
         "step_norms": [1.0, 0.9, 0.8]},
        {"epoch": 2, "train_loss": 0.25, "train_accuracy": 0.9, "val_loss": None, "val_accuracy": None,
         "learning_rate": 0.0, "seconds": 1.25, "steps": 2, "clipped": 1, "step_losses": [0.3, 0.2],
         "step_norms": [0.5, 6.0]},
    ]  # fmt: skip
    save_model(Network([6, 4, 3]), tmp_path / "run.npz", history, {"learning_rate": 0.1, "hidden_sizes": [4]})
    loaded, settings = model_files.load_history(tmp_path / "run.npz")
    assert settings == {"learning_rate": 0.1, "hidden_sizes": [4]}
    assert [record["epoch"] for record in loaded] == [1, 2] and loaded[1]["val_accuracy"] is None
    np.testing.assert_allclose(loaded[0]["step_losses"], [0.7, 0.5, 0.3], rtol=1e-6)
    np.testing.assert_allclose(loaded[1]["step_norms"], [0.5, 6.0], rtol=1e-6)
    assert model_files.load_history(saved_path(tmp_path)) == ([], {})  # a file without a history
    arrays = dict(np.load(tmp_path / "run.npz"))
    arrays["history_step_losses"] = arrays["history_step_losses"][:3]  # one step lost
    np.savez(tmp_path / "damaged.npz", **arrays)
    with pytest.raises(ModelFileError, match="its history is damaged"):
        model_files.load_history(tmp_path / "damaged.npz")


def saved_path(tmp_path):
    save_model(Network([6, 4, 3]), tmp_path / "plain.npz")
    return tmp_path / "plain.npz"
