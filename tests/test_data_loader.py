"""The IDX loader, checked against small files the tests write themselves."""

import gzip
import hashlib
import os
import struct

import numpy as np
import pytest

import data_loader
from data_loader import DataError

from conftest import (
    CANONICAL_NAMES,
    REAL_DATA,
    idx_bytes,
    memory_cap_works,
    read_real,
    run_with_memory_cap,
    write_dataset,
    write_idx,
)

RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, size=(7, 4, 3), dtype=np.uint8)  # 7 images of 4x3 pixels
LABELS = np.array([0, 9, 3, 3, 1, 5, 7], dtype=np.uint8)
TEST_IMAGES = RNG.integers(0, 256, size=(2, 4, 3), dtype=np.uint8)
TEST_LABELS = np.array([2, 8], dtype=np.uint8)


def make_folder(tmp_path, suffix=".gz"):
    return write_dataset(tmp_path / "data", IMAGES, LABELS, TEST_IMAGES, TEST_LABELS, suffix)


@pytest.mark.parametrize("suffix", [".gz", ""])
def test_round_trip_gzip_and_plain(tmp_path, suffix):
    images, labels = data_loader.load_split(make_folder(tmp_path, suffix), "train")
    assert images.dtype == np.float32 and images.shape == (7, 12)
    np.testing.assert_array_equal(images, IMAGES.reshape(7, 12).astype(np.float32) / 255)
    assert images.min() >= 0 and images.max() <= 1
    np.testing.assert_array_equal(labels, LABELS)
    assert np.issubdtype(labels.dtype, np.integer)


@pytest.mark.parametrize("suffix", [".gz", ""])
def test_dotted_spelling_is_accepted(tmp_path, suffix):
    folder = tmp_path / "dotted"
    folder.mkdir()
    write_idx(folder / ("t10k-images.idx3-ubyte" + suffix), TEST_IMAGES)
    write_idx(folder / ("t10k-labels.idx1-ubyte" + suffix), TEST_LABELS)
    images, labels = data_loader.load_test_data(folder)
    np.testing.assert_array_equal(labels, TEST_LABELS)
    assert images.shape == (2, 12)


def test_missing_file_names_folder_files_and_source(tmp_path):
    folder = make_folder(tmp_path)
    (folder / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError) as error:
        data_loader.load_training_data(folder, 2)
    message = str(error.value)
    assert str(folder) in message
    for name in CANONICAL_NAMES.values():
        assert name in message
    assert "http" in message  # where to get them


def test_missing_folder(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        data_loader.load_test_data(tmp_path / "nowhere")


def test_data_dir_that_is_a_file(tmp_path):
    (tmp_path / "data.zip").write_bytes(b"PK")
    with pytest.raises(DataError, match="data.zip' is a file, not a folder"):
        data_loader.load_training_data(tmp_path / "data.zip", 2)


def test_folder_that_cannot_be_listed(tmp_path, monkeypatch):
    def refuse(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(data_loader.os, "listdir", refuse)
    with pytest.raises(DataError, match="cannot look into the data folder .*: Permission denied"):
        data_loader.load_test_data(make_folder(tmp_path))


def test_a_file_without_read_permission(tmp_path, monkeypatch):
    """The operating system refuses to open the file, as it does another user's file. Played by refusing in the
    loader's own call, so that this runs as root too, whom permission bits do not stop."""

    def refuse(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(data_loader, "open_regular", refuse)
    with pytest.raises(DataError, match="cannot read .*t10k-images-idx3-ubyte.gz': Permission denied"):
        data_loader.load_test_data(make_folder(tmp_path))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX-only")
@pytest.mark.parametrize("name", ["t10k-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte"])
def test_a_named_pipe_instead_of_a_file_is_refused_without_waiting(tmp_path, name):
    folder = make_folder(tmp_path)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    os.mkfifo(folder / name)  # nobody will ever write into it: reading it would wait forever
    with pytest.raises(DataError, match=f"cannot read '.*{name}': it is a named pipe, not a file"):
        data_loader.load_test_data(folder)
    result = run_with_memory_cap("import data_loader", f"""
try:
    data_loader.read_image_shape({str(folder)!r}, "test")
    data_loader.load_test_data({str(folder)!r})
except data_loader.DataError as error:
    print(error)
""", extra_megabytes=100)  # fmt: skip
    assert "named pipe" in result.stdout, result.stderr


@pytest.mark.parametrize("split", ["train", "test"])
def test_a_data_set_without_images(tmp_path, split):
    no_images, no_labels = np.zeros((0, 4, 3), np.uint8), np.zeros(0, np.uint8)
    if split == "train":
        folder = write_dataset(tmp_path / "data", no_images, no_labels, TEST_IMAGES, TEST_LABELS)
    else:
        folder = write_dataset(tmp_path / "data", IMAGES, LABELS, no_images, no_labels)
    with pytest.raises(DataError, match=f"{CANONICAL_NAMES[split + '_images']}.gz' holds no images"):
        data_loader.load_split(folder, split)


def test_test_images_of_another_size_than_expected(tmp_path):
    folder = write_dataset(tmp_path / "data", IMAGES, LABELS, np.zeros((2, 5, 3), np.uint8), TEST_LABELS)
    training_shape = data_loader.read_image_shape(folder, "train")
    assert training_shape == (4, 3) and data_loader.read_image_shape(folder, "test") == (5, 3)
    with pytest.raises(DataError, match="holds images of 5x3 pixels, but images of 4x3 pixels are expected"):
        data_loader.load_test_data(folder, image_shape=training_shape)
    assert data_loader.load_test_data(folder)[0].shape == (2, 15)  # without the check, it loads


def test_read_image_shape_checks_the_header(tmp_path):
    folder = make_folder(tmp_path)
    write_idx(folder / "train-images-idx3-ubyte.gz", IMAGES, magic=2049)  # the magic number of labels
    with pytest.raises(DataError, match="magic number 2049"):
        data_loader.read_image_shape(folder)
    (folder / "train-images-idx3-ubyte.gz").write_bytes(b"not gzip")
    with pytest.raises(DataError, match="not a valid gzip file"):
        data_loader.read_image_shape(folder)


@pytest.mark.parametrize(
    "cut, expected", [(-5, "bytes of data but holds only 79: the file is truncated"), (2, "longer")]
)
def test_gzip_files_are_checked_against_their_header(tmp_path, cut, expected):
    folder = make_folder(tmp_path)
    content = idx_bytes(IMAGES)  # 16 + 84 bytes
    content = content[:cut] if cut < 0 else content + bytes(cut)
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(content))
    with pytest.raises(DataError, match=expected):
        data_loader.load_split(folder, "train")


def image_header(count, rows, columns):
    return struct.pack(">IIII", 2051, count, rows, columns)


def test_absurd_declared_sizes_are_refused_before_reading(tmp_path):
    folder = make_folder(tmp_path, suffix="")
    (folder / "train-images-idx3-ubyte").write_bytes(image_header(10**6, 1000, 1000) + bytes(100))
    message = r"declares 1000000 x 1000 x 1000 values, which would take 3,725.3 GiB in memory, more than the 2 GiB"
    with pytest.raises(DataError, match=message):
        data_loader.load_split(folder, "train")


def write_gzip_bomb(path, header, gibibytes=1):
    """A gzip file that decompresses into `header` and then `gibibytes` GiB of zeros, yet is 1 MB per GiB.

    A gzip file may hold several compressed parts ("members") one after another, and reading it decompresses
    them in turn: one compressed MiB of zeros (about 1 KB) written 1024 times is a GiB of zeros.
    """
    compressed_mebibyte = gzip.compress(bytes(2**20), compresslevel=9)
    with open(path, "wb") as file:
        file.write(gzip.compress(header))
        for _ in range(1024 * gibibytes):
            file.write(compressed_mebibyte)


@memory_cap_works
@pytest.mark.parametrize(
    "header, expected",
    [
        (image_header(7, 4, 3), "longer than declared"),  # little declared: only that much is decompressed
        (image_header(10**6, 1000, 1000), "more than the 2 GiB"),  # much declared: refused by the header alone
        (image_header(2_100_000, 28, 28), "which would take 6.1 GiB in memory"),  # the bytes fit, the floats not
    ],
    ids=["little_declared", "a_terabyte_declared", "millions_of_mnist_images_declared"],
)
def test_gzip_bombs_end_in_a_clear_error_within_300_mb(tmp_path, header, expected):
    folder = make_folder(tmp_path)
    write_gzip_bomb(folder / "train-images-idx3-ubyte.gz", header)
    code = f"""
try:
    data_loader.load_split({str(folder)!r}, "train")
except data_loader.DataError as error:
    print(error)
"""
    result = run_with_memory_cap("import data_loader", code, extra_megabytes=300)
    assert result.returncode == 0 and "MemoryError" not in result.stderr, result.stderr
    assert expected in result.stdout


def corrupt(tmp_path, name, content):
    folder = make_folder(tmp_path, suffix="")
    (folder / name).write_bytes(content)
    return folder


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("train-images-idx3-ubyte", idx_bytes(IMAGES, magic=2049), "magic number 2049"),
        ("train-labels-idx1-ubyte", idx_bytes(LABELS, magic=2051), "magic number 2051"),
        ("train-images-idx3-ubyte", idx_bytes(IMAGES)[:-5], "truncated"),
        ("train-images-idx3-ubyte", idx_bytes(IMAGES) + b"\0\0", "longer than declared"),
        ("train-labels-idx1-ubyte", idx_bytes(LABELS)[:-1], "truncated"),
        ("train-images-idx3-ubyte", b"\x00\x00\x08", "too short"),
        ("train-labels-idx1-ubyte", idx_bytes(np.array([1, 2, 10, 3, 4, 5, 6])), "label 10 at position 2"),
        ("train-labels-idx1-ubyte", idx_bytes(LABELS[:6]), "7 images but"),
        ("train-images-idx3-ubyte", idx_bytes(np.zeros((7, 0, 3))), "at least 1"),
    ],
)
def test_malformed_files_raise_one_clear_error(tmp_path, name, content, expected):
    folder = corrupt(tmp_path, name, content)
    with pytest.raises(DataError, match=expected) as error:
        data_loader.load_split(folder, "train")
    assert "train-" in str(error.value)  # the message names the file


def test_not_gzip_despite_its_name(tmp_path):
    folder = make_folder(tmp_path)
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(idx_bytes(TEST_IMAGES))  # not compressed
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz' is not a valid gzip file"):
        data_loader.load_test_data(folder)


def test_truncated_gzip(tmp_path):
    folder = make_folder(tmp_path)
    path = folder / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(TEST_LABELS))[:-6])
    with pytest.raises(DataError, match="gzip"):
        data_loader.load_test_data(folder)


def test_validation_split_takes_the_last_images(tmp_path):
    train_images, train_labels, val_images, val_labels = data_loader.load_training_data(make_folder(tmp_path), 3)
    assert len(train_images) == 4 and len(val_images) == 3
    np.testing.assert_array_equal(val_labels, LABELS[4:])
    np.testing.assert_array_equal(train_labels, LABELS[:4])


@pytest.mark.parametrize("size", [7, 8, -1])
def test_impossible_validation_size(tmp_path, size):
    with pytest.raises(DataError, match="validation size"):
        data_loader.load_training_data(make_folder(tmp_path), size)


def test_training_data_never_reads_the_test_files(tmp_path):
    folder = make_folder(tmp_path)
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(b"garbage")
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    train_images, *_ = data_loader.load_training_data(folder, 2)
    assert len(train_images) == 5


def test_one_hot():
    encoded = data_loader.one_hot(np.array([3, 0, 9]))
    assert encoded.dtype == np.float32 and encoded.shape == (3, 10)
    np.testing.assert_array_equal(encoded.argmax(axis=1), [3, 0, 9])
    np.testing.assert_array_equal(encoded.sum(axis=1), [1, 1, 1])


def test_the_committed_mnist_files():
    train_images, train_labels, val_images, val_labels = data_loader.load_training_data(REAL_DATA, 10000)
    test_images, test_labels = data_loader.load_test_data(REAL_DATA)
    assert data_loader.read_image_shape(REAL_DATA) == (28, 28)
    assert train_images.shape == (50000, 784) and val_images.shape == (10000, 784)
    assert test_images.shape == (10000, 784)
    assert train_images.dtype == np.float32 and train_images.min() >= 0 and train_images.max() == 1
    np.testing.assert_array_equal(np.bincount(test_labels), np.bincount(read_real("test_labels")))
    np.testing.assert_array_equal(val_images[-1], read_real("train_images")[-1].reshape(784) / np.float32(255))


def test_committed_files_are_the_published_mnist():
    """The decompressed files have the MD5 checksums published with MNIST."""
    published = {
        "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
        "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
    }
    for name, checksum in published.items():
        content = gzip.decompress((REAL_DATA / f"{name}.gz").read_bytes())
        assert hashlib.md5(content).hexdigest() == checksum, name


def test_read_image_shape_of_a_non_square_set(tmp_path):
    assert data_loader.read_image_shape(make_folder(tmp_path)) == (4, 3)
