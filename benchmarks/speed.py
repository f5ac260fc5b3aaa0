"""How fast is training? One epoch against the floor NumPy cannot beat, and against scikit-learn.

    python benchmarks/speed.py                     # about a minute on 2 cores
    python benchmarks/speed.py --hidden-size 512   # the default network of train.py

The work is the same for all three: a 784-128-10 ReLU network, plain SGD (no momentum), batch 128, one epoch
over the 50,000 training images, no augmentation.
- project:      one epoch of train.py's own training loop (shuffle, forward, backward, update).
- GEMM only:    the five matrix multiplications of every mini-batch alone, on arrays of the same shapes.
                Everything else an epoch does is overhead on top of this floor.
- scikit-learn: MLPClassifier doing the same epoch, if scikit-learn happens to be installed (it is not a
                dependency of this project; `pip install scikit-learn` to include it).
The three are measured in turns, so that machine noise hits them alike, and the median of each is reported;
the ratios come from the same run. The project keeps training one network across the repeats, so the later
epochs are those of a confident network, where unflushed subnormal numbers would show up as a slowdown.
"""

import argparse
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project's modules

import data_loader  # noqa: E402
import train  # noqa: E402
from network import Network  # noqa: E402
from optimizers import SGD  # noqa: E402

BATCH_SIZE = 128
LEARNING_RATE = 0.1


def project_epoch(network, optimizer, data):
    """Seconds for one more epoch of train.train on `network`, as train.py runs it."""
    hidden_size = network.layer_sizes[1]
    args = train.parse_arguments(
        ["--hidden-size", str(hidden_size), "--batch-size", str(BATCH_SIZE), "--epochs", "1", "--momentum", "0",
         "--learning-rate", str(LEARNING_RATE), "--schedule", "constant", "--augment", "none"]
    )  # fmt: skip
    history, _ = train.train(network, optimizer, *data, args, log=lambda line: None)
    return history[0]["seconds"]


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


def loading_seconds(data_dir):
    """Seconds to read, check and normalise the 60,000 training images and labels."""
    started = time.perf_counter()
    data_loader.load_split(data_dir, "train")
    return time.perf_counter() - started


def main(argv=None):
    parser = argparse.ArgumentParser(description="Time one training epoch against its floor and scikit-learn.")
    parser.add_argument("--repeats", type=int, default=7, help="measurements of each (default: %(default)s)")
    parser.add_argument("--hidden-size", type=int, default=128, help="hidden units (default: %(default)s)")
    parser.add_argument("--data-dir", default="data", help="folder with the MNIST files (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        data = data_loader.load_training_data(args.data_dir, 10000)
        load = statistics.median(loading_seconds(args.data_dir) for _ in range(3))
    except data_loader.DataError as error:
        sys.exit(f"error: {error}")
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
    print(f"Loading the 60,000 training images: {load:.2f}s (median of 3)")
    print(f"One epoch of 784-{args.hidden_size}-10, plain SGD, batch {BATCH_SIZE}, {len(train_images):,} images "
          f"(median of {args.repeats}):")  # fmt: skip
    print(f"  project epoch            {project:.3f}s")
    print(f"  GEMM only (the floor)    {gemm:.3f}s")
    print(f"  project / GEMM only      {project / gemm:.2f}x   (target: at most 1.25x)")
    if timings["sklearn"]:
        scikit = statistics.median(timings["sklearn"])
        print(f"  scikit-learn epoch       {scikit:.3f}s")
        print(f"  project / scikit-learn   {project / scikit:.2f}x   (target: at most 0.80x)")
    else:
        print("  scikit-learn             not installed, skipped")


if __name__ == "__main__":
    main()
