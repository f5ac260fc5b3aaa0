"""Weights files: saving a model, and loading one without trusting the file; and writing any file atomically.

A weights file is a plain NumPy .npz archive (a zip of .npy arrays): the model type, its architecture (layer
sizes, or filters and hidden sizes), the image shape, the input scaling (grey level / 255), the seed of its
starting weights, and the parameters W1, b1, W2, b2, ... in the order of the model's parameters().

Loading never unpickles anything, and it reads each array's header (name, shape, type) before its data: a
damaged or hostile file is refused before anything large is read or allocated. Saving writes a temporary file
and renames it over the old one, so an interrupted save never leaves half a file.
"""

import errno
import math
import os
import shutil
import stat
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from conv_network import ConvNetwork, feature_map_size
from data_loader import PIXEL_MAX
from network import Network

FORMAT_VERSION = 1  # bump when the layout of saved files changes
MAX_PARAMETERS = 100_000_000  # 400 MB of float32: far beyond any network here, small enough for any laptop
ARCHITECTURE_NAMES = {"mlp": ("layer_sizes",), "cnn": ("conv_channels", "hidden_sizes", "kernel_size")}
SMALL_NAMES = ("format_version", "model_type", "image_shape", "pixel_max", "seed", "layer_sizes", "conv_channels",
               "hidden_sizes", "kernel_size")  # fmt: skip


class ModelFileError(Exception):
    """A weights file is missing, unreadable or does not describe a valid network. The message names it."""


# ----- saving ------------------------------------------------------------------------------------------------


def architecture(model):
    """What a weights file records, besides the parameters, to rebuild `model`."""
    if isinstance(model, ConvNetwork):
        described = {"model_type": "cnn", "conv_channels": model.conv_channels, "hidden_sizes": model.hidden_sizes,
                     "kernel_size": model.kernel_size}  # fmt: skip
    else:
        described = {"model_type": "mlp", "layer_sizes": model.layer_sizes}
    seed = {} if model.seed is None else {"seed": np.int64(model.seed)}  # None: loaded from an older file
    return {**described, "image_shape": list(model.image_shape), **seed}


def save_model(model, path):
    """Write `model` to the .npz file `path`, atomically. A model holding NaN or inf is refused, not saved."""
    parameters = model.parameters()
    if not all(np.isfinite(parameter).all() for parameter in parameters):
        raise ModelFileError(f"the model holds NaN or inf values (training blew up); '{path}' was not changed")
    arrays = {"format_version": np.array(FORMAT_VERSION), "pixel_max": np.array(PIXEL_MAX, dtype=np.float32)}
    arrays.update({name: np.array(value) for name, value in architecture(model).items()})
    for index in range(len(parameters) // 2):
        arrays[f"W{index + 1}"], arrays[f"b{index + 1}"] = parameters[2 * index], parameters[2 * index + 1]
    write_atomically(path, lambda file: np.savez(file, **arrays))


def write_atomically(path, write):
    """Call write(file) on a new temporary file in the folder of `path`, then rename it to `path`.

    Writing straight into `path` and being interrupted (Ctrl-C, a full disk, a crash) would leave a broken
    file where a good one used to be. A rename replaces a file in one step on every common operating system,
    so `path` holds either all of the new content or its old content. A symbolic link is followed: its target
    is updated and the link stays. A read-only file is not replaced (PermissionError).
    """
    path = Path(path).resolve() if Path(path).is_symlink() else Path(path)
    if path.exists() and not path.stat().st_mode & stat.S_IWUSR:
        raise PermissionError(errno.EACCES, "the file is read-only", str(path))
    handle, temporary_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as temporary_file:
            write(temporary_file)
            temporary_file.flush()
            os.fsync(temporary_file.fileno())
        # mkstemp creates a file only its owner may read; give the new file the old one's permissions,
        # or those of any file newly created here
        if path.exists():
            shutil.copymode(path, temporary_name)
        else:
            os.chmod(temporary_name, 0o666 & ~current_umask())
        os.replace(temporary_name, path)
    except BaseException:
        Path(temporary_name).unlink(missing_ok=True)
        raise
    return path


def current_umask():
    """The permission bits new files do not get (reading it means setting it, so we set it back at once)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


# ----- loading -----------------------------------------------------------------------------------------------


def load_model(path):
    """The model saved in `path`, a Network or a ConvNetwork as the file records. Raises ModelFileError.

    The file is checked in this order, so that nothing large is read or allocated before it is known to fit:
    the archive and the headers of its arrays; the small arrays that describe the architecture; the shapes
    the architecture needs against the headers; only then the parameters themselves, which must be finite.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            headers = read_headers(archive, path)
            small = {name: read_array(archive, name, headers, path) for name in SMALL_NAMES if name in headers}
            model_type, numbers, shapes = expected_shapes(small, path)
            check_shapes(headers, shapes, path)
            parameters = [read_array(archive, name, headers, path).astype(np.float32) for name in shapes]
    except FileNotFoundError:
        raise ModelFileError(f"weights file '{path}' does not exist; train one with: python train.py") from None
    except IsADirectoryError:
        raise ModelFileError(f"'{path}' is a folder, not a weights file") from None
    except PermissionError:
        raise ModelFileError(f"'{path}' cannot be read: permission denied") from None
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as error:
        raise ModelFileError(f"'{path}' is not a weights file of this project (not a readable .npz archive: "
                             f"{error})") from None  # fmt: skip
    if not all(np.isfinite(parameter).all() for parameter in parameters):
        raise ModelFileError(f"'{path}' holds NaN or inf weights: it cannot be used; train a new model")
    return build_model(model_type, numbers, recorded_seed(small, path), parameters)


def load_digit_model(path, image_shape=(28, 28)):
    """The model saved in `path`, checked to read digits: ten outputs, and images of `image_shape`.

    The programs that show digits use this, so that a model's fault is blamed on the model, not on the pictures.
    """
    model = load_model(path)
    if tuple(model.image_shape) != tuple(image_shape):
        rows, columns = model.image_shape
        raise ModelFileError(f"'{path}' takes {rows}x{columns} images, not {image_shape[0]}x{image_shape[1]} ones")
    if model.num_classes != 10:
        raise ModelFileError(f"'{path}' has {model.num_classes} outputs, not one for each of the 10 digits")
    return model


def read_headers(archive, path):
    """{array name: (shape, dtype)} of every .npy member, read from the headers alone; other members are skipped."""
    headers = {}
    for member in archive.infolist():
        name = member.filename.removesuffix(".npy")
        if not member.filename.endswith(".npy") or not (name in SMALL_NAMES or is_parameter_name(name)):
            continue  # not ours: skipped unread
        if member.flag_bits & 0x1:
            raise ModelFileError(f"'{path}' is encrypted; weights files of this project never are")
        try:
            with archive.open(member) as stream:
                shape, dtype = read_npy_header(stream)
                data_bytes = member.file_size - stream.tell()
        except NotImplementedError:
            raise ModelFileError(f"'{path}' uses a compression method this program cannot read") from None
        except ValueError as error:
            raise ModelFileError(f"'{path}': {member.filename} is not a NumPy array ({error})") from None
        if dtype.hasobject or not (np.issubdtype(dtype, np.number) or dtype.kind in "US"):
            raise ModelFileError(f"'{path}': {name} holds {dtype} values, not numbers; weights files hold numbers")
        if math.prod(shape) * dtype.itemsize != data_bytes:
            raise ModelFileError(f"'{path}' is damaged: {name} declares {shape} values but holds {data_bytes} bytes")
        headers[name] = (shape, dtype)
    return headers


def read_npy_header(stream):
    """(shape, dtype) from the header at the start of a .npy stream; the data after it is not read."""
    version = np.lib.format.read_magic(stream)
    if version not in ((1, 0), (2, 0)):
        raise ValueError(f".npy format version {version} is not one np.savez writes")
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read_header(stream)
    return shape, dtype


def is_parameter_name(name):
    """True for W1, b1, W2, b2, ...: the names under which the parameters are saved."""
    return name[:1] in ("W", "b") and name[1:].isdigit()


def read_array(archive, name, headers, path):
    """The array `name` of the archive (its header already checked); the small ones must be small."""
    shape, dtype = headers[name]
    if name in SMALL_NAMES and math.prod(shape) * dtype.itemsize > 1024:
        raise ModelFileError(f"'{path}': {name} is {math.prod(shape) * dtype.itemsize:,} bytes; it describes the "
                             "model in a few")  # fmt: skip
    with archive.open(f"{name}.npy") as stream:
        return np.lib.format.read_array(stream, allow_pickle=False)


def expected_shapes(small, path):
    """(model type, its architecture's numbers, {parameter name: the shape it needs}), from the small arrays."""
    missing = [name for name in ("format_version", "model_type", "image_shape") if name not in small]
    if missing:
        raise ModelFileError(f"'{path}' is not a weights file of this project: it lacks {', '.join(missing)}")
    if small["format_version"].shape != () or not np.issubdtype(small["format_version"].dtype, np.integer):
        raise ModelFileError(f"'{path}' has a malformed format_version")
    if int(small["format_version"]) > FORMAT_VERSION:
        raise ModelFileError(f"'{path}' was saved by a newer version of this project; update your copy")
    model_type = str(small["model_type"])
    if model_type not in ARCHITECTURE_NAMES:
        raise ModelFileError(f"'{path}' holds a model of unknown type '{model_type}'")
    numbers = {name: whole_numbers(small, name, path) for name in ("image_shape", *ARCHITECTURE_NAMES[model_type])}
    try:
        shapes = parameter_shapes(model_type, numbers)
    except ValueError as error:
        raise ModelFileError(f"'{path}' does not describe a valid {model_type} model: {error}") from None
    if sum(math.prod(shape) for shape in shapes) > MAX_PARAMETERS:
        raise ModelFileError(f"'{path}' describes a network of more than {MAX_PARAMETERS:,} parameters")
    names = [f"{'Wb'[index % 2]}{index // 2 + 1}" for index in range(len(shapes))]  # W1, b1, W2, b2, ...
    return model_type, numbers, dict(zip(names, shapes))


def recorded_seed(small, path):
    """The seed of the model's starting weights, checked; None for files saved before it was recorded."""
    if "seed" not in small:
        return None
    seed = small["seed"]
    if seed.shape != () or not np.issubdtype(seed.dtype, np.integer) or not 0 <= int(seed) < 2**32:
        raise ModelFileError(f"'{path}': seed must be one whole number from 0 to 2**32 - 1, not {seed!r}")
    return int(seed)


def whole_numbers(small, name, path):
    """small[name] as a list of positive Python ints, or a ModelFileError that says what is wrong with it."""
    if name not in small:
        raise ModelFileError(f"'{path}' lacks {name}, which its architecture needs")
    values = np.ravel(small[name])
    if not np.issubdtype(values.dtype, np.integer) or len(values) == 0 or values.min() < 1:
        raise ModelFileError(f"'{path}': {name} must be positive whole numbers, not {small[name]!r}")
    return [int(value) for value in values]


def parameter_shapes(model_type, numbers):
    """The shapes of W1, b1, W2, b2, ... that an architecture needs, computed without building the model."""
    rows, columns = numbers["image_shape"] if len(numbers["image_shape"]) == 2 else (0, 0)
    if rows * columns == 0:
        raise ValueError(f"image_shape must be two sizes, rows and columns, not {numbers['image_shape']}")
    if model_type == "mlp":
        layer_sizes = numbers["layer_sizes"]
        if len(layer_sizes) < 2 or layer_sizes[0] != rows * columns:
            raise ValueError(f"layer sizes {layer_sizes} do not start with the {rows}x{columns} image's pixels")
    else:
        [kernel_size], channels = numbers["kernel_size"], numbers["conv_channels"]
        height, width = feature_map_size((rows, columns), channels, kernel_size)
        layer_sizes = [height * width * channels[-1], *numbers["hidden_sizes"], 10]
    shapes = []
    if model_type == "cnn":
        for channels_in, channels_out in zip([1, *channels[:-1]], channels):
            shapes += [(kernel_size * kernel_size * channels_in, channels_out), (channels_out,)]
    for fan_in, fan_out in zip(layer_sizes[:-1], layer_sizes[1:]):
        shapes += [(fan_in, fan_out), (fan_out,)]
    return shapes


def check_shapes(headers, shapes, path):
    """Every parameter the architecture needs is in the file, with exactly the shape it needs."""
    for name, shape in shapes.items():
        if name not in headers:
            raise ModelFileError(f"'{path}' lacks the array {name} that its architecture needs")
        found, dtype = headers[name]
        if found != shape or not np.issubdtype(dtype, np.floating):
            raise ModelFileError(f"'{path}': {name} is a {dtype} array of shape {found}, but the architecture "
                                 f"it records needs float values of shape {shape}")  # fmt: skip


def build_model(model_type, numbers, seed, parameters):
    """The Network or ConvNetwork that `numbers` describe, holding `parameters` (all already checked)."""
    if model_type == "cnn":
        model = ConvNetwork(numbers["conv_channels"], numbers["hidden_sizes"], numbers["kernel_size"][0],
                            image_shape=numbers["image_shape"])  # fmt: skip
    else:
        model = Network(numbers["layer_sizes"], image_shape=numbers["image_shape"])
    model.seed = seed  # the starting weights are replaced below; the figures rebuild them from the seed
    for parameter, saved in zip(model.parameters(), parameters):
        parameter[...] = saved
    return model


def is_weights_file(path):
    """True when `path` is a weights file of this project (a zip holding format_version and model_type)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return {"format_version.npy", "model_type.npy"} <= set(archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False
