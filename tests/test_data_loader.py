"""The IDX loader, checked against small files the tests write themselves."""

import gzip
import hashlib

import numpy as np
import pytest

import data_loader
from data_loader import DataError

from conftest import CANONICAL_NAMES, REAL_DATA, idx_bytes, read_real, write_dataset, write_idx

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
