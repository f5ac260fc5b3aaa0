"""Read the MNIST digits from their original IDX files and prepare them for training.

The IDX format (http://yann.lecun.com/exdb/mnist/) is a tiny binary header followed by raw bytes:

    bytes 0-3    magic number, big-endian: 2051 (0x00000803) for images, 2049 (0x00000801) for labels;
                 its third byte, 0x08, says "unsigned bytes" and its fourth the number of dimensions
    bytes 4-7    number of items N
    bytes 8-15   images only: rows and columns (28 and 28 for MNIST)
    then         N labels (one byte each) or N * rows * columns pixels (one byte each, 0 = background)

The lesson comes first: read a file, turn the grey levels into numbers in [0, 1], hold out a validation set.
The second half of the file is its defences, every way a data file can be missing, damaged or hostile; a first
reading can stop where it starts. Any data set stored the same way (Fashion-MNIST, for example) loads
unchanged: point `data_dir` at its folder.
"""

import contextlib
import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

from support.files import open_regular

IMAGE_MAGIC = 2051
LABEL_MAGIC = 2049
NUM_CLASSES = 10
PIXEL_MAX = 255  # pixels are stored as 0..255; we divide by this to get [0, 1]
FILE_NAMES = {  # the four files of a data folder, by their usual names (with .gz, or without)
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


class DataError(Exception):
    """A data file is missing or malformed. The message names the file and what is wrong."""


# ----- the lesson: read, normalise, split --------------------------------------------------------------------


def load_training_data(data_dir, validation_size):
    """(train_images, train_labels, validation_images, validation_labels); the test files are not read."""
    images, labels = load_split(data_dir, "train")
    train_images, train_labels, validation_images, validation_labels = split_validation(images, labels, validation_size)
    check_two_digits(train_labels, data_dir)
    return train_images, train_labels, validation_images, validation_labels


def load_test_data(data_dir, image_shape=None):
    """(test_images, test_labels): read only for the final evaluation. image_shape: see load_split."""
    return load_split(data_dir, "test", image_shape)


def load_split(data_dir, split, image_shape=None):
    """The 'train' or 'test' images and labels of `data_dir`: images as float32 in [0, 1], one image per row,
    (N, rows * columns); labels as integers 0-9, (N,). With `image_shape` (rows, columns), the images must have
    that size: the training images' size when loading the test images, or the size a model takes."""
    images_path = find_file(data_dir, FILE_NAMES[f"{split}_images"])
    labels_path = find_file(data_dir, FILE_NAMES[f"{split}_labels"])
    raw_images = read_idx(images_path, IMAGE_MAGIC)  # (N, rows, columns) uint8
    labels = read_idx(labels_path, LABEL_MAGIC).astype(np.int64)  # (N,)
    check_pair(raw_images, labels, images_path, labels_path, image_shape)
    return normalize(raw_images.reshape(len(raw_images), -1)), labels  # (N, rows * columns), (N,)


def read_idx(path, expected_magic):
    """Parse one IDX file into a uint8 array: (N,) for labels, (N, rows, columns) for images.

    The header says how many values follow; reading one byte more than that notices a file that goes on.
    """
    with opened(path) as file:
        sizes = read_header(file, path, expected_magic)  # [N] or [N, rows, columns]
        data = file.read(math.prod(sizes) + 1)  # at most what the header declares, plus one byte
    check_length(path, sizes, len(data))
    return np.frombuffer(data, dtype=np.uint8).reshape(sizes)


def normalize(raw_pixels):
    """uint8 grey levels 0..255 -> float32 in [0, 1]. predict.py applies the same to new images."""
    return np.divide(raw_pixels, PIXEL_MAX, dtype=np.float32)


def split_validation(images, labels, validation_size):
    """Hold out the last `validation_size` training examples as a validation set.

    The network never trains on them: they tell us how well it generalises while we choose
    hyperparameters and epochs, so that the test set stays untouched until the final evaluation.
    """
    if not 0 <= validation_size < len(images):
        raise DataError(
            f"validation size {validation_size} must be at least 0 and less than the {len(images)} training images"
        )
    cut = len(images) - validation_size
    return images[:cut], labels[:cut], images[cut:], labels[cut:]


def one_hot(labels, num_classes=NUM_CLASSES):
    """Integer labels (N,) -> float32 one-hot rows (N, num_classes): label 3 becomes [0,0,0,1,0,0,0,0,0,0].

    This is the Y of the equations in network.py. The training code itself never builds it: subtracting 1
    from P at each true label gives P - Y directly (softmax_cross_entropy), which is cheaper.
    """
    encoded = np.zeros((len(labels), num_classes), dtype=np.float32)
    encoded[np.arange(len(labels)), labels] = 1.0
    return encoded


def read_image_shape(data_dir, split="train"):
    """(rows, columns) of the images of `split`, read from the header of its images file alone."""
    path = find_file(data_dir, FILE_NAMES[f"{split}_images"])
    with opened(path) as file:
        _, rows, columns = read_header(file, path, IMAGE_MAGIC)
    return rows, columns


# ----- the defences: a first reading can stop here -----------------------------------------------------------
# Everything below turns a missing, damaged, swapped, truncated or hostile file into one DataError that names
# the file and says what to do, before anything large is read or built.

MAX_ARRAY_BYTES = 2 * 2**30  # 2 GiB for the float32 images (MNIST's are 188 MB): a damaged header can claim far more
HEADER_SIZES = {IMAGE_MAGIC: 16, LABEL_MAGIC: 8}  # bytes
BYTES_BUILT_PER_VALUE = {IMAGE_MAGIC: 4, LABEL_MAGIC: 8}  # the float32 pixels and int64 labels made from each byte
WHERE_TO_GET_THEM = (
    "A clone of this repository has them in data/. Otherwise download the four .gz files from a mirror of "
    "the MNIST database, such as https://ossci-datasets.s3.amazonaws.com/mnist/, into that folder."
)


def find_file(data_dir, usual_name):
    """The path of one of the four files in `data_dir`, whichever accepted spelling it uses: the usual name or
    the dotted one (train-images.idx3-ubyte), each gzip-compressed (.gz) or not."""
    data_dir = Path(data_dir)
    names_in_folder = list_folder(data_dir)
    dotted_name = usual_name.replace("-idx", ".idx")
    for name in (usual_name, dotted_name):
        for candidate in (name + ".gz", name):
            if candidate in names_in_folder:
                return data_dir / candidate
    expected = ", ".join(name + ".gz" for name in FILE_NAMES.values())
    raise DataError(
        f"data folder '{data_dir}' has no {usual_name}.gz (nor {usual_name}, {dotted_name} "
        f"or {dotted_name}.gz). The folder needs the four MNIST files {expected} "
        f"(uncompressed, or with '.idx' in place of '-idx', also works). {WHERE_TO_GET_THEM}"
    )


def list_folder(data_dir):
    """The names of everything in the folder `data_dir`. DataError if it is missing, a file, or unreadable."""
    try:
        return set(os.listdir(data_dir))
    except FileNotFoundError:
        raise DataError(f"data folder '{data_dir}' does not exist. {WHERE_TO_GET_THEM}") from None
    except NotADirectoryError:
        raise DataError(f"'{data_dir}' is a file, not a folder: give the folder that holds the MNIST files") from None
    except OSError as error:  # no permission to read it, most often
        raise DataError(f"cannot look into the data folder '{data_dir}': {error.strerror}") from None


@contextlib.contextmanager
def opened(path):
    """`path` opened for reading bytes, if it is a regular file (a named pipe would block, a device never end).

    A .gz file is decompressed as it is read, and only as far as it is read. Every failure becomes a DataError.
    """
    try:
        with open_regular(path) as raw, gzip.GzipFile(fileobj=raw) if path.suffix == ".gz" else raw as file:
            yield file
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise DataError(f"'{path}' is not a valid gzip file ({error}); download it again") from None
    except OSError as error:
        raise DataError(f"cannot read '{path}': {error.strerror or error}") from None


def read_header(file, path, expected_magic):
    """Read the header at the start of the open IDX `file` and return its sizes: [N] or [N, rows, columns].

    A compressed file can decompress into far more than it looks (a few megabytes of gzip can hold gigabytes of
    zeros), and a header can declare any size. So the sizes are checked here, against what the arrays built
    from them would take in memory, before a single value is read.
    """
    kind = "image" if expected_magic == IMAGE_MAGIC else "label"
    header_size = HEADER_SIZES[expected_magic]
    header = file.read(header_size)
    if len(header) < header_size:
        raise DataError(
            f"'{path}' is {len(header)} bytes long, too short for an IDX {kind} file "
            f"(its header alone is {header_size} bytes)"
        )
    numbers = np.frombuffer(header, dtype=">u4")  # big-endian unsigned 32-bit
    magic, sizes = int(numbers[0]), [int(size) for size in numbers[1:]]
    if magic != expected_magic:
        raise DataError(
            f"'{path}' starts with magic number {magic}, but an IDX {kind} file starts with {expected_magic}: "
            f"it is not an MNIST {kind} file (is it swapped with another file, or not an IDX file at all?)"
        )
    if kind == "image" and (sizes[1] == 0 or sizes[2] == 0):
        raise DataError(f"'{path}' declares images of {sizes[1]}x{sizes[2]} pixels; both sizes must be at least 1")
    built = math.prod(sizes) * BYTES_BUILT_PER_VALUE[expected_magic]  # a Python integer: it cannot overflow
    if built > MAX_ARRAY_BYTES:
        raise DataError(
            f"'{path}' declares {' x '.join(map(str, sizes))} values, which would take {built / 2**30:,.1f} GiB in "
            f"memory, more than the {MAX_ARRAY_BYTES // 2**30} GiB this loader builds: the file is damaged or not an "
            "MNIST-like data set"
        )
    return sizes


def check_length(path, sizes, data_read):
    """DataError unless exactly the declared number of values followed the header (`data_read` counts them,
    plus the one extra byte read to notice a longer file)."""
    declared = f"'{path}' declares {' x '.join(map(str, sizes))} bytes of data"
    if data_read < math.prod(sizes):
        raise DataError(f"{declared} but holds only {data_read}: the file is truncated (download it again)")
    if data_read > math.prod(sizes):
        raise DataError(f"{declared} but goes on past them: the file is longer than declared")


def check_pair(raw_images, labels, images_path, labels_path, image_shape):
    """The images and labels of one split belong together: as many of each, labels 0-9, the expected size."""
    if len(raw_images) == 0:
        raise DataError(f"'{images_path}' holds no images")
    if image_shape is not None and raw_images.shape[1:] != tuple(image_shape):
        rows, columns = raw_images.shape[1:]
        raise DataError(
            f"'{images_path}' holds images of {rows}x{columns} pixels, but images of "
            f"{image_shape[0]}x{image_shape[1]} pixels are expected (the training images' size, or the model's)"
        )
    if len(raw_images) != len(labels):
        raise DataError(
            f"'{images_path}' holds {len(raw_images)} images but '{labels_path}' holds {len(labels)} labels; "
            "they must match one to one"
        )
    if labels.max() >= NUM_CLASSES:
        position = int(np.argmax(labels >= NUM_CLASSES))
        raise DataError(
            f"'{labels_path}' has label {labels[position]} at position {position}; labels must be 0-{NUM_CLASSES - 1}"
        )


def check_two_digits(train_labels, data_dir):
    """The training images must show at least two different digits: otherwise there is nothing to tell apart."""
    digits = np.unique(train_labels)
    if len(digits) < 2:
        raise DataError(f"the training images in '{data_dir}' show only the digit {digits[0]} "
                        f"({len(train_labels):,} image{'' if len(train_labels) == 1 else 's'}): the network needs at "
                        "least two different digits to learn to tell them apart")  # fmt: skip
