"""Read the MNIST digits from their original IDX files, check them, and prepare them for training.

The IDX format (http://yann.lecun.com/exdb/mnist/) is a tiny binary header followed by raw bytes:

    bytes 0-3    magic number, big-endian: 2051 (0x00000803) for images, 2049 (0x00000801) for labels;
                 its third byte, 0x08, says "unsigned bytes" and its fourth the number of dimensions
    bytes 4-7    number of items N
    bytes 8-15   images only: rows and columns (28 and 28 for MNIST)
    then         N labels (one byte each) or N * rows * columns pixels (one byte each, 0 = background)

Any data set stored the same way (Fashion-MNIST, for example) loads unchanged: point `data_dir` at its folder.
"""

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

IMAGE_MAGIC = 2051
LABEL_MAGIC = 2049
NUM_CLASSES = 10
PIXEL_MAX = 255  # pixels are stored as 0..255; we divide by this to get [0, 1]
HEADER_SIZES = {IMAGE_MAGIC: 16, LABEL_MAGIC: 8}  # bytes
MAX_DATA_BYTES = 2 * 2**30  # 2 GiB of pixels: far more than MNIST's 47 MB, far less than a corrupt header can claim

# The four files a data folder must hold, by their canonical names. Two spellings are in use
# ("train-images-idx3-ubyte" and "train-images.idx3-ubyte"), each possibly gzip-compressed.
FILE_NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
WHERE_TO_GET_THEM = (
    "A clone of this repository has them in data/. Otherwise download the four .gz files from a mirror of "
    "the MNIST database, such as https://ossci-datasets.s3.amazonaws.com/mnist/, into that folder."
)


class DataError(Exception):
    """A data file is missing or malformed. The message names the file and what is wrong."""


def find_file(data_dir, canonical_name):
    """Return the path of one of the four files in `data_dir`, whichever accepted spelling it uses."""
    data_dir = Path(data_dir)
    names_in_folder = list_folder(data_dir)
    dotted_name = canonical_name.replace("-idx", ".idx")  # train-images-idx3-ubyte -> train-images.idx3-ubyte
    for name in (canonical_name, dotted_name):
        for candidate in (name + ".gz", name):
            if candidate in names_in_folder:
                return data_dir / candidate
    expected = ", ".join(name + ".gz" for name in FILE_NAMES.values())
    raise DataError(
        f"data folder '{data_dir}' has no {canonical_name}.gz (nor {canonical_name}, {dotted_name} "
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


def open_data_file(path):
    """`path` opened for reading bytes. A .gz file is decompressed as it is read, and only as far as it is read."""
    return gzip.open(path) if path.suffix == ".gz" else open(path, "rb")


def read_idx(path, expected_magic):
    """Parse one IDX file into a uint8 array of shape (N,) for labels or (N, rows, columns) for images.

    Checks the magic number and that the byte count matches the declared sizes exactly,
    so that a truncated download or a file with trailing garbage is caught here, not during training.
    """
    path = Path(path)
    try:
        with open_data_file(path) as file:
            return read_idx_content(file, path, expected_magic)
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise DataError(f"'{path}' is not a valid gzip file ({error}); download it again") from None
    except OSError as error:
        raise DataError(f"cannot read '{path}': {error.strerror or error}") from None


def read_idx_content(file, path, expected_magic):
    """The array in the open IDX `file`, read no further than its header says it goes (plus one byte).

    A compressed file can decompress into far more than it looks: a few megabytes of gzip can hold
    gigabytes of zeros. Reading only the declared size, after checking that size is sensible, keeps the
    memory needed to what the header promises, whatever the file really holds.
    """
    dims = read_header(file, path, expected_magic)
    header_size = HEADER_SIZES[expected_magic]
    data_size = math.prod(dims)  # a Python integer: it cannot overflow
    if data_size > MAX_DATA_BYTES:
        raise DataError(
            f"'{path}' declares {' x '.join(map(str, dims))} bytes of data, more than the "
            f"{MAX_DATA_BYTES // 2**30} GiB this loader accepts: the file is damaged or not an MNIST-like data set"
        )
    if path.suffix != ".gz":  # the length of a plain file is known before reading it
        check_length(path, dims, header_size + data_size, os.fstat(file.fileno()).st_size)
    data = file.read(data_size + 1)  # one byte more than declared, to notice a file that goes on
    check_length(path, dims, header_size + data_size, header_size + len(data))
    return np.frombuffer(data, dtype=np.uint8).reshape(dims)


def read_header(file, path, expected_magic):
    """Read the header at the start of the open IDX `file` and return its sizes: [N] or [N, rows, columns]."""
    kind = "image" if expected_magic == IMAGE_MAGIC else "label"
    header_size = HEADER_SIZES[expected_magic]
    header = file.read(header_size)
    if len(header) < header_size:
        raise DataError(
            f"'{path}' is {len(header)} bytes long, too short for an IDX {kind} file "
            f"(its header alone is {header_size} bytes)"
        )
    numbers = np.frombuffer(header, dtype=">u4")  # big-endian unsigned 32-bit
    magic, dims = int(numbers[0]), [int(size) for size in numbers[1:]]
    if magic != expected_magic:
        raise DataError(
            f"'{path}' starts with magic number {magic}, but an IDX {kind} file starts with {expected_magic}: "
            f"it is not an MNIST {kind} file (is it swapped with another file, or not an IDX file at all?)"
        )
    if kind == "image" and (dims[1] == 0 or dims[2] == 0):
        raise DataError(f"'{path}' declares images of {dims[1]}x{dims[2]} pixels; both sizes must be at least 1")
    return dims


def check_length(path, dims, expected_size, actual_size):
    """DataError unless the file is `expected_size` bytes long; `actual_size` is its length, or what was read."""
    declared = f"'{path}' declares {' x '.join(map(str, dims))} bytes of data ({expected_size} bytes with its header)"
    if actual_size < expected_size:
        raise DataError(f"{declared} but is only {actual_size} bytes long: the file is truncated (download it again)")
    if actual_size > expected_size:
        raise DataError(f"{declared} but goes on past them: the file is longer than declared")


def load_split(data_dir, split, image_shape=None):
    """Load the 'train' or 'test' images and labels of `data_dir`, checked.

    Returns images as float32 in [0, 1] with one image per row, shape (N, rows * columns),
    and labels as integers 0-9, shape (N,). With `image_shape` (rows, columns), the images must have that
    size: pass the training images' size when loading the test images, or the size a model takes.
    """
    images_path = find_file(data_dir, FILE_NAMES[f"{split}_images"])
    labels_path = find_file(data_dir, FILE_NAMES[f"{split}_labels"])
    raw_images = read_idx(images_path, IMAGE_MAGIC)  # (N, rows, columns) uint8
    if len(raw_images) == 0:
        raise DataError(f"'{images_path}' holds no images")
    if image_shape is not None and raw_images.shape[1:] != tuple(image_shape):
        rows, columns = raw_images.shape[1:]
        raise DataError(
            f"'{images_path}' holds images of {rows}x{columns} pixels, but images of "
            f"{image_shape[0]}x{image_shape[1]} pixels are expected (the training images' size, or the model's)"
        )
    labels = read_idx(labels_path, LABEL_MAGIC).astype(np.int64)  # (N,)
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
    return normalize(raw_images.reshape(len(raw_images), -1)), labels


def read_image_shape(data_dir, split="train"):
    """(rows, columns) of the images of `split`, read from the header of its images file alone.

    train.py can compare the training and the test images' shapes this way before it trains:
    read_image_shape(data_dir, "train") == read_image_shape(data_dir, "test").
    """
    path = find_file(data_dir, FILE_NAMES[f"{split}_images"])
    try:
        with open_data_file(path) as file:
            _, rows, columns = read_header(file, path, IMAGE_MAGIC)
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise DataError(f"'{path}' is not a valid gzip file ({error}); download it again") from None
    except OSError as error:
        raise DataError(f"cannot read '{path}': {error.strerror or error}") from None
    return rows, columns


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


def load_training_data(data_dir, validation_size):
    """(train_images, train_labels, validation_images, validation_labels); the test files are not read."""
    images, labels = load_split(data_dir, "train")
    return split_validation(images, labels, validation_size)


def load_test_data(data_dir, image_shape=None):
    """(test_images, test_labels): read only for the final evaluation. image_shape: see load_split."""
    return load_split(data_dir, "test", image_shape)


def one_hot(labels, num_classes=NUM_CLASSES):
    """Integer labels (N,) -> float32 one-hot rows (N, num_classes): label 3 becomes [0,0,0,1,0,0,0,0,0,0].

    This is the Y of the equations in network.py. The training code itself never builds it: subtracting 1
    from P at each true label gives P - Y directly (softmax_cross_entropy), which is cheaper.
    """
    encoded = np.zeros((len(labels), num_classes), dtype=np.float32)
    encoded[np.arange(len(labels)), labels] = 1.0
    return encoded
