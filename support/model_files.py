"""Weights files: saving a model, and loading one without trusting the file.

A weights file is a plain NumPy .npz archive (a zip of .npy arrays): the model type, its architecture (layer
sizes, or filters and hidden sizes), its activation and initialisation, the image shape, the input scaling
(grey level / 255), the seed of its starting weights, and the parameters W1, b1, W2, b2, ... in the order of
the model's parameters(). A file saved by train.py also holds the run's history (the loss of every step, the
figures of every epoch) and its settings, so that runs can be compared later (python visualize.py --compare).

Loading never unpickles anything, and it reads each array's header (name, shape, type) before its data: a
damaged or hostile file is refused before anything large is read or allocated. Saving is atomic (files.py).
"""

import contextlib
import json
import lzma
import math
import zipfile
import zlib

import numpy as np

from conv_network import ConvNetwork, feature_map_size
from data_loader import PIXEL_MAX
from network import ACTIVATIONS, INITIALIZATIONS, Network
from support.files import NotAFileError, open_regular, write_atomically

FORMAT_VERSION = 1  # bump when the layout of saved files changes
MAX_PARAMETERS = 100_000_000  # 400 MB of float32: far beyond any network here, small enough for any laptop
MAX_HISTORY_VALUES = 10_000_000  # steps or epochs in a saved history: 40 MB per array at most
MAX_SETTINGS_BYTES = 65_536
ARCHITECTURE_NAMES = {"mlp": ("layer_sizes",), "cnn": ("conv_channels", "hidden_sizes", "kernel_size")}
SMALL_NAMES = ("format_version", "model_type", "image_shape", "pixel_max", "seed", "layer_sizes", "conv_channels",
               "hidden_sizes", "kernel_size", "activation", "init")  # fmt: skip
EPOCH_FIELDS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds",
                "steps", "clipped")  # fmt: skip
STEP_FIELDS = ("step_losses", "step_norms")  # one value per gradient step
HISTORY_NAMES = tuple(f"history_{field}" for field in EPOCH_FIELDS + STEP_FIELDS)
ALLOWED_KINDS = "biufU"  # booleans, integers, floats and text: nothing else belongs in a weights file


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
    return {**described, "image_shape": list(model.image_shape), "activation": model.activation,
            "init": model.init, **seed}  # fmt: skip


def history_arrays(history):
    """The history of a run (train.train's records) as arrays: one value per epoch, and one per step."""
    arrays = {}
    for field in EPOCH_FIELDS:  # a missing validation figure (no validation set) is saved as NaN
        values = [math.nan if record.get(field) is None else record[field] for record in history]
        arrays[f"history_{field}"] = np.array(values, dtype=np.float64)
    for field in STEP_FIELDS:
        arrays[f"history_{field}"] = np.array([value for record in history for value in record[field]], np.float32)
    return arrays


def save_model(model, path, history=None, settings=None):
    """Write `model` to the .npz file `path`, atomically, with the run's `history` and `settings` (a dict) if given.

    A model holding NaN or inf is refused, not saved."""
    parameters = model.parameters()
    if not all(np.isfinite(parameter).all() for parameter in parameters):
        raise ModelFileError(f"the model holds NaN or inf values (training blew up); '{path}' was not changed")
    arrays = {"format_version": np.array(FORMAT_VERSION), "pixel_max": np.array(PIXEL_MAX, dtype=np.float32)}
    arrays.update({name: np.array(value) for name, value in architecture(model).items()})
    for index in range(len(parameters) // 2):
        arrays[f"W{index + 1}"], arrays[f"b{index + 1}"] = parameters[2 * index], parameters[2 * index + 1]
    if history:
        arrays.update(history_arrays(history))
    if settings is not None:
        arrays["settings"] = np.array(json.dumps(settings, sort_keys=True))
    return write_atomically(path, lambda file: np.savez(file, **arrays))


# ----- loading -----------------------------------------------------------------------------------------------


def load_model(path):
    """The model saved in `path`, a Network or a ConvNetwork as the file records. Raises ModelFileError.

    The file is checked in this order, so that nothing large is read or allocated before it is known to fit:
    the archive and the headers of its arrays; the small arrays that describe the architecture; the shapes
    the architecture needs against the headers; only then the parameters themselves, which must be finite.
    """
    with open_archive(path) as archive:
        headers = read_headers(archive, path, SMALL_NAMES)
        small = {name: read_array(archive, name, headers, path) for name in SMALL_NAMES if name in headers}
        model_type, numbers, shapes = expected_shapes(small, path)
        check_shapes(headers, shapes, path)
        parameters = [read_array(archive, name, headers, path).astype(np.float32) for name in shapes]
    if not all(np.isfinite(parameter).all() for parameter in parameters):
        raise ModelFileError(f"'{path}' holds NaN or inf weights: it cannot be used; train a new model")
    return build_model(model_type, numbers, recorded_seed(small, path), words(small, path), parameters)


def load_history(path):
    """(history, settings) saved with the model in `path`, as train.train's records and a dict; ([], {}) when the
    file holds none (it was saved by an older version, or not by train.py). Raises ModelFileError."""
    with open_archive(path) as archive:
        headers = read_headers(archive, path, (*HISTORY_NAMES, "settings"))
        arrays = {name: read_array(archive, name, headers, path) for name in headers}
    settings = {}
    if "settings" in arrays:
        try:
            settings = json.loads(str(arrays["settings"]))
        except ValueError:
            raise ModelFileError(f"'{path}': its settings are not readable") from None
        if not isinstance(settings, dict):
            raise ModelFileError(f"'{path}': its settings are not readable")
    if not all(name in arrays for name in HISTORY_NAMES):
        return [], settings
    epochs = {field: arrays[f"history_{field}"] for field in EPOCH_FIELDS}
    steps = {field: arrays[f"history_{field}"] for field in STEP_FIELDS}
    counts = epochs["steps"]
    if len({len(values) for values in epochs.values()}) != 1 or any(len(v) != int(np.nansum(counts)) for v in
                                                                   steps.values()):  # fmt: skip
        raise ModelFileError(f"'{path}': its history is damaged (the lengths of its arrays do not agree)")
    history, start = [], 0
    for index in range(len(counts)):
        record = {
            field: None if math.isnan(values[index]) else float(values[index]) for field, values in epochs.items()
        }
        record["epoch"], record["steps"] = int(record["epoch"]), int(record["steps"])
        record.update({field: values[start : start + record["steps"]].tolist() for field, values in steps.items()})
        start += record["steps"]
        history.append(record)
    return history, settings


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


@contextlib.contextmanager
def open_archive(path):
    """The zip archive in `path`, opened only if it is a regular file; every failure becomes a ModelFileError."""
    try:
        file = open_regular(path)
    except FileNotFoundError:
        raise ModelFileError(f"weights file '{path}' does not exist; train one with: python train.py") from None
    except NotAFileError as error:
        raise ModelFileError(f"'{path}' is {error.kind}, not a weights file") from None
    except IsADirectoryError:  # Windows says so on opening
        raise ModelFileError(f"'{path}' is a folder, not a weights file") from None
    except OSError as error:
        raise ModelFileError(f"cannot read '{path}' ({error.strerror or error})") from None
    with file:
        try:
            archive = zipfile.ZipFile(file)
        except (zipfile.BadZipFile, EOFError, ValueError):
            raise ModelFileError(f"'{path}' is not a weights file of this project (not a .npz archive)") from None
        with archive:
            try:
                yield archive
            except (zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError, ValueError):
                raise ModelFileError(f"'{path}' is damaged: one of its arrays cannot be read") from None
            except NotImplementedError:
                raise ModelFileError(f"'{path}' uses a compression method this program cannot read") from None
            except OSError as error:
                raise ModelFileError(f"cannot read '{path}' ({error.strerror or error})") from None


def read_headers(archive, path, names):
    """{array name: (shape, dtype)} of every .npy member called one of `names` (or a parameter, W1, b1, ...), read
    from the headers alone; other members are skipped unread."""
    headers = {}
    for member in archive.infolist():
        name = member.filename.removesuffix(".npy")
        if not member.filename.endswith(".npy") or not (name in names or is_parameter_name(name)):
            continue  # not ours, or not needed now: skipped unread
        if member.flag_bits & 0x1:
            raise ModelFileError(f"'{path}' is encrypted; weights files of this project never are")
        with archive.open(member) as stream:
            shape, dtype = read_npy_header(stream, member.filename, path)
            data_bytes = member.file_size - stream.tell()
        if dtype.hasobject or dtype.kind not in ALLOWED_KINDS:
            raise ModelFileError(f"'{path}': {name} holds {dtype} values; weights files hold numbers and text only")
        if any(size < 0 for size in shape) or math.prod(shape) * dtype.itemsize != data_bytes:
            raise ModelFileError(f"'{path}' is damaged: {name} declares {shape} values but holds {data_bytes} bytes")
        headers[name] = (shape, dtype)
    return headers


def read_npy_header(stream, member_name, path):
    """(shape, dtype) from the header at the start of a .npy stream; the data after it is not read."""
    try:
        version = np.lib.format.read_magic(stream)
        if version not in ((1, 0), (2, 0)):
            raise ValueError
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(stream)
    except (ValueError, TypeError, SyntaxError, EOFError):  # NumPy's own messages speak of its internals
        raise ModelFileError(f"'{path}': {member_name} is not a NumPy array (its header cannot be read)") from None
    return shape, dtype


def is_parameter_name(name):
    """True for W1, b1, W2, b2, ...: the names under which the parameters are saved."""
    return name[:1] in ("W", "b") and name[1:].isdigit()


def read_array(archive, name, headers, path):
    """The array `name` of the archive (its header already checked); the small ones must be small."""
    shape, dtype = headers[name]
    size = math.prod(shape) * dtype.itemsize
    limit = {"settings": MAX_SETTINGS_BYTES, **dict.fromkeys(SMALL_NAMES, 1024)}.get(name)
    if name in HISTORY_NAMES:
        limit = MAX_HISTORY_VALUES * 8
    if limit is not None and size > limit:
        raise ModelFileError(f"'{path}': {name} is {size:,} bytes, more than the {limit:,} it may take")
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
        raise ModelFileError(f"'{path}' holds a model of unknown type '{model_type[:40]}'")
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
        raise ModelFileError(f"'{path}': seed must be one whole number from 0 to 2**32 - 1")
    return int(seed)


def words(small, path):
    """(activation, init) the file records, checked; relu and he for files saved before they were recorded."""
    found = []
    for name, default, allowed in (("activation", "relu", ACTIVATIONS), ("init", "he", INITIALIZATIONS)):
        value = str(small[name]) if name in small else default
        if value not in allowed:
            raise ModelFileError(f"'{path}': {name} must be one of {', '.join(allowed)}, not '{value[:40]}'")
        found.append(value)
    return found


def whole_numbers(small, name, path):
    """small[name] as a list of positive Python ints, or a ModelFileError that says what is wrong with it."""
    if name not in small:
        raise ModelFileError(f"'{path}' lacks {name}, which its architecture needs")
    values = np.ravel(small[name])
    if not np.issubdtype(values.dtype, np.integer) or len(values) == 0 or values.min() < 1:
        raise ModelFileError(f"'{path}': {name} must be positive whole numbers, not {small[name].tolist()!r:.60}")
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
        if len(numbers["kernel_size"]) != 1:
            raise ValueError(f"kernel_size must be one number, not {numbers['kernel_size']}")
        kernel_size, channels = numbers["kernel_size"][0], numbers["conv_channels"]
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


def build_model(model_type, numbers, seed, activation_and_init, parameters):
    """The Network or ConvNetwork that `numbers` describe, holding `parameters` (all already checked)."""
    activation, init = activation_and_init
    if model_type == "cnn":
        model = ConvNetwork(numbers["conv_channels"], numbers["hidden_sizes"], numbers["kernel_size"][0],
                            image_shape=numbers["image_shape"], activation=activation, init=init)  # fmt: skip
    else:
        model = Network(numbers["layer_sizes"], image_shape=numbers["image_shape"], activation=activation, init=init)
    model.seed = seed  # the starting weights are replaced below; the figures rebuild them from the seed
    for parameter, saved in zip(model.parameters(), parameters):
        parameter[...] = saved
    return model


def is_weights_file(path):
    """True when `path` is a regular file holding a weights file of this project (format_version and model_type)."""
    try:
        with open_regular(path) as file, zipfile.ZipFile(file) as archive:
            return {"format_version.npy", "model_type.npy"} <= set(archive.namelist())
    except (OSError, zipfile.BadZipFile, EOFError, ValueError):
        return False
