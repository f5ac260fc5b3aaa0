"""How fast is training? One epoch against its matrix products alone, which no NumPy code can avoid, and scikit-learn.

    python benchmarks/speed.py                       # about 3 minutes on 2 cores, mostly the cnn's epochs
    python benchmarks/speed.py --hidden-size 512     # the default network of train.py
    python benchmarks/speed.py --validation-size 0   # every epoch on all 60,000 training images

The work is the same for all three: a 784-128-10 ReLU network, plain SGD (no momentum), batch 128, one epoch
over the training images (50,000 of them, unless --validation-size says otherwise), no augmentation.
- project:      one epoch of train.py's own training loop (shuffle, forward, backward, update).
- GEMM only:    the five matrix multiplications of every mini-batch alone, on arrays of the same shapes.
                Everything else an epoch does is overhead on top of these.
- scikit-learn: MLPClassifier doing the same epoch, if scikit-learn happens to be installed (it is not a
                dependency of this project; `pip install scikit-learn` to include it).
The three are measured in turns, so that machine noise hits them alike, and the median of each is reported;
the ratios come from the same run. The project keeps training one network across the repeats, so the later
epochs are those of a confident network, where unflushed subnormal numbers would show up as a slowdown.

Then the cost of data augmentation: distorting the same training images in mini-batches of 128, as
train.py does every epoch, against one training epoch of a 784-800-10 network without augmentation.

Last, one epoch of the convolutional network of the 'cnn' preset (without augmentation) against its matrix
products alone (on arrays of the shapes one mini-batch uses, times the number of mini-batches), each measured
--cnn-repeats times in turns, the medians compared (a single epoch of it varies by seconds); and where the
rest of the epoch goes: im2col and col2im, and max-pooling, each timed inside the epoch, and everything else,
what remains of the epoch. That can come out a little below 0 when the products run faster inside the epoch
than alone: training multiplies their transposes, the same work, which OpenBLAS did about 4% faster on the
machine of docs/results.md.

Every option is checked before any work starts: a bad value ends the program with one line, `error: --option:
what is wrong` (exit status 2; 1 for a data folder that cannot be read).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project's modules

import support.startup  # noqa: E402 (first: a clear message if NumPy is missing, and a clean Ctrl-C)

import argparse  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

import conv_network  # noqa: E402
import data_loader  # noqa: E402
import train  # noqa: E402
from augment import augment_images  # noqa: E402
from conv_network import im2col, max_pool  # noqa: E402
from network import Network  # noqa: E402
from optimizers import SGD, clip_by_global_norm  # noqa: E402
from support.command_line import whole_number_from  # noqa: E402
from support.progress import describe  # noqa: E402

BATCH_SIZE = 128
LEARNING_RATE = 0.1


def project_epoch(network, optimizer, data):
    """Seconds for one more epoch of train.train on `network`, as train.py runs it."""
    hidden_size = network.layer_sizes[1]
    args = train.default_settings(
        hidden_sizes=[hidden_size],
        batch_size=BATCH_SIZE,
        epochs=1,
        momentum=0.0,
        learning_rate=LEARNING_RATE,
        schedule="constant",
        augment="none",
    )
    history, _ = train.train(network, optimizer, *data, args, log=lambda line: None)
    return history[0]["seconds"]


def clipping_seconds(network, image_count, repeats=200):
    """Seconds per epoch that train_step spends on gradient clipping: the length of every step's gradient."""
    gradients = [np.ones_like(parameter) for parameter in network.parameters()]  # the shapes of a step's gradient
    calls = []
    for _ in range(repeats):
        started = time.perf_counter()
        clip_by_global_norm(gradients, train.clip_norm)  # the default clip norm, which these never exceed
        calls.append(time.perf_counter() - started)
    return statistics.median(calls) * math.ceil(image_count / BATCH_SIZE)


def gemm_only_epoch(train_images, hidden_size):
    """Seconds for the matrix products alone: per mini-batch, 2 in the forward and 3 in the backward pass."""
    rng = np.random.default_rng(0)
    w1 = rng.standard_normal((train_images.shape[1], hidden_size), dtype=np.float32)
    w2 = rng.standard_normal((hidden_size, 10), dtype=np.float32)
    started = time.perf_counter()
    for start in range(0, len(train_images), BATCH_SIZE):
        x = train_images[start : start + BATCH_SIZE]  # (B, 784), a view: no copy
        hidden = x @ w1  # (B, 784) @ (784, H) -> (B, H)
        scores = hidden @ w2  # (B, H) @ (H, 10) -> (B, 10)
        _ = hidden.T @ scores  # dW2: (H, B) @ (B, 10) -> (H, 10)
        delta = scores @ w2.T  # dH:  (B, 10) @ (10, H) -> (B, H)
        _ = x.T @ delta  # dW1: (784, B) @ (B, H) -> (784, H)
    return time.perf_counter() - started


def sklearn_epoch(train_images, train_labels, hidden_size):
    """Seconds for one epoch of scikit-learn's MLPClassifier doing the same work, or None without scikit-learn."""
    try:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier
    except ImportError:
        return None
    model = MLPClassifier(
        hidden_layer_sizes=(hidden_size,), activation="relu", solver="sgd", batch_size=BATCH_SIZE,
        learning_rate_init=LEARNING_RATE, momentum=0.0, nesterovs_momentum=False, alpha=0.0,
        max_iter=1, shuffle=True, random_state=0,
    )  # fmt: skip
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # one epoch is "not converged", as intended
        model.fit(train_images, train_labels)
    return time.perf_counter() - started


def augmentation_epoch(train_images, method, rng):
    """Seconds to distort every training image once, a mini-batch at a time, as train.py does."""
    started = time.perf_counter()
    for start in range(0, len(train_images), BATCH_SIZE):
        augment_images(train_images[start : start + BATCH_SIZE], method, rng)
    return time.perf_counter() - started


def report_augmentation(data, repeats):
    """Print the cost of each augmentation per epoch next to a training epoch of 800 hidden units."""
    network = Network([data[0].shape[1], 800, 10], seed=0)
    optimizer = SGD(momentum=0)
    methods = ["shift", "affine", "elastic"]
    timings = {name: [] for name in ["training", *methods]}
    rng = np.random.default_rng(0)
    for _ in range(repeats):
        timings["training"].append(project_epoch(network, optimizer, data))
        for method in methods:
            timings[method].append(augmentation_epoch(data[0], method, rng))
    training = statistics.median(timings["training"])
    print(f"Augmenting {len(data[0]):,} images in batches of {BATCH_SIZE}, against one training epoch of "
          f"784-800-10 (median of {repeats}):")  # fmt: skip
    print(f"  training epoch, 800 hidden  {training:.3f}s")
    for method in methods:
        seconds = statistics.median(timings[method])
        print(f"  {method:<27} {seconds:.3f}s   {seconds / training:.2f}x of training")


def timed(function, totals, name):
    """`function`, changed to add the seconds of every call to totals[name]."""

    def wrapper(*args):
        started = time.perf_counter()
        result = function(*args)
        totals[name] += time.perf_counter() - started
        return result

    return wrapper


def cnn_product_seconds(network, images):
    """Seconds for the matrix products of one mini-batch alone: per layer, forward, weight and input gradient.

    The operands are those of training, written with one patch per row, (B * OH * OW, K * K * C_in) for a
    convolution: training multiplies their transposes (conv_network.py), which is the same work.
    """
    operands = []  # (what a layer multiplies by its weights, the weights)
    activation = images.T.reshape(1, *network.image_shape, len(images))  # (1, 28, 28, B), as ConvNetwork.forward
    for weight in network.conv_weights:
        columns = im2col(activation, network.kernel_size)  # (K * K * C_in, OH * OW * B)
        operands.append((np.ascontiguousarray(columns.T), weight))  # (OH * OW * B, K * K * C_in)
        size = activation.shape[1] - network.kernel_size + 1
        pooled, _ = max_pool((weight.T @ columns).reshape(-1, size, size, len(images)))  # (C_out, OH/2, OW/2, B)
        activation = np.maximum(pooled, 0)
    features = activation.transpose(3, 1, 2, 0).reshape(len(images), -1)  # (B, 16 * C2)
    for weight in network.weights:
        operands.append((features, weight))
        features = np.maximum(features @ weight, 0)
    started = time.perf_counter()
    for layer, (inputs, weight) in enumerate(operands):
        outputs = inputs @ weight  # forward
        _ = inputs.T @ outputs  # the weight gradient has these shapes
        if layer > 0:  # and so has the gradient of the inputs, which training skips for the first layer
            _ = outputs @ weight.T
    return time.perf_counter() - started


def cnn_epoch_parts(network, optimizer, data, args):
    """Seconds of one epoch of the convolutional network, and of its im2col and col2im, and its max-pooling."""
    totals = {"im2col and col2im": 0.0, "max-pooling, forward and backward": 0.0}
    # To time these four functions inside a real epoch, replace each for the epoch with a copy that also
    # counts its own time (ConvNetwork finds them in the module conv_network), and put the originals back.
    originals = {name: getattr(conv_network, name) for name in ("im2col", "col2im", "max_pool", "max_pool_backward")}
    for name, function in originals.items():
        part = "im2col and col2im" if "col" in name else "max-pooling, forward and backward"
        setattr(conv_network, name, timed(function, totals, part))
    try:
        history, _ = train.train(network, optimizer, *data, args, log=lambda line: None)
    finally:
        for name, function in originals.items():
            setattr(conv_network, name, function)
    return history[0]["seconds"], totals


def report_cnn(data, repeats):
    """Print one epoch of the 'cnn' preset's network against its matrix products alone, and where the rest goes.

    The epoch and the products are measured in turns, `repeats` times each, and the medians are compared."""
    args = train.default_settings(**{**train.PRESETS["cnn"], "epochs": 1, "augment": "none", "dropout": 0.0})
    network, optimizer = train.build_model(args, (28, 28))
    batches = math.ceil(len(data[0]) / args.batch_size)
    epochs, products, parts = [], [], {}
    for _ in range(repeats):
        seconds, totals = cnn_epoch_parts(network, optimizer, data, args)
        epochs.append(seconds)
        for name, part_seconds in totals.items():
            parts.setdefault(name, []).append(part_seconds)
        one_batch = statistics.median(cnn_product_seconds(network, data[0][: args.batch_size]) for _ in range(9))
        products.append(one_batch * batches)
    epoch, products = statistics.median(epochs), statistics.median(products)
    parts = {name: statistics.median(seconds) for name, seconds in parts.items()}
    parts["everything else"] = epoch - products - sum(parts.values())
    print(f"One epoch of the 'cnn' preset's network ({describe(network)}), {len(data[0]):,} images without "
          f"augmentation (median of {repeats}):")  # fmt: skip
    print(f"  epoch                                 {epoch:6.1f}s   (each: {', '.join(f'{s:.1f}' for s in epochs)})")
    print(f"  matrix products alone                 {products:6.1f}s")
    print(f"  epoch / products alone                {epoch / products:6.2f}x")
    print("  the rest of the epoch:")
    for name, seconds in parts.items():
        print(f"    {name:<35} {seconds:6.1f}s  {100 * seconds / epoch:3.0f}% of the epoch")
    if parts["everything else"] < 0:  # see the module docstring
        print("    (below 0: the matrix products ran faster inside the epoch than alone, by about that much)")


def loading_seconds(data_dir):
    """Seconds to read, check and normalise the 60,000 training images and labels."""
    started = time.perf_counter()
    data_loader.load_split(data_dir, "train")
    return time.perf_counter() - started


class Parser(argparse.ArgumentParser):
    """argparse, whose errors are one line, `error: --option: what is wrong`, without the usage (exit status 2)."""

    def error(self, message):
        self.exit(2, f"error: {message.removeprefix('argument ')}\n")


def make_parser():
    """The options, each checked as argparse reads it (--validation-size again once the data is read)."""
    parser = Parser(description="Time one training epoch against its floor and scikit-learn.")
    add = parser.add_argument
    add("--repeats", type=whole_number_from(1), default=7, help="measurements of each (default: %(default)s)")
    add("--hidden-size", type=whole_number_from(1, 100_000), default=128, help="hidden units (default: %(default)s)")
    add("--data-dir", default="data", help="folder with the MNIST files (default: %(default)s)")
    add("--cnn-repeats", type=whole_number_from(1), default=3, help="epochs of the cnn (default: %(default)s)")
    add("--validation-size", type=whole_number_from(0), default=10000, help="held out, as in train.py")
    return parser


def load_data(parser, args):
    """(training images, labels, validation images, labels), or one error line: exit status 1 when the data folder
    cannot be read, 2 when --validation-size holds out all of its images."""
    try:
        images, labels = data_loader.load_split(args.data_dir, "train")
    except data_loader.DataError as error:
        sys.exit(f"error: --data-dir: {error}")
    if args.validation_size >= len(images):
        parser.error(f"--validation-size: must be less than the {len(images):,} training images in "
                     f"'{args.data_dir}', not {args.validation_size:,}")  # fmt: skip
    return data_loader.split_validation(images, labels, args.validation_size)


def main(argv=None):
    parser = make_parser()
    args = parser.parse_args(argv)
    data = load_data(parser, args)
    load = statistics.median(loading_seconds(args.data_dir) for _ in range(3))
    train_images, train_labels = data[0], data[1]

    network = Network([train_images.shape[1], args.hidden_size, 10], seed=0)
    optimizer = SGD(momentum=0)
    timings = {"project": [], "gemm": [], "sklearn": []}
    for _ in range(args.repeats):
        timings["project"].append(project_epoch(network, optimizer, data))
        timings["gemm"].append(gemm_only_epoch(train_images, args.hidden_size))
        sklearn_seconds = sklearn_epoch(train_images, train_labels, args.hidden_size)
        if sklearn_seconds is not None:
            timings["sklearn"].append(sklearn_seconds)
    project, gemm = statistics.median(timings["project"]), statistics.median(timings["gemm"])

    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    print(f"Machine: {machine}, Python {platform.python_version()}, NumPy {np.__version__}")
    print(f"Loading the {len(data[0]) + len(data[2]):,} training images: {load:.2f}s (median of 3)")
    print(f"One epoch of 784-{args.hidden_size}-10, plain SGD, batch {BATCH_SIZE}, {len(train_images):,} images "
          f"(median of {args.repeats}):")  # fmt: skip
    print(f"  project epoch            {project:.3f}s")
    print(f"  GEMM only                {gemm:.3f}s")
    print(f"  project / GEMM only      {project / gemm:.2f}x")
    clipping = clipping_seconds(network, len(train_images))
    print(f"  of which clipping        {clipping:.3f}s   {100 * clipping / project:.1f}% of the epoch")
    if timings["sklearn"]:
        scikit = statistics.median(timings["sklearn"])
        print(f"  scikit-learn epoch       {scikit:.3f}s")
        print(f"  project / scikit-learn   {project / scikit:.2f}x")
    else:
        print("  scikit-learn             not installed, skipped")
    report_augmentation(data, max(1, args.repeats // 2))
    report_cnn(data, args.cnn_repeats)


if __name__ == "__main__":
    support.startup.run(main)
