"""How fast is one training epoch? Measured against the floor NumPy cannot beat, and against scikit-learn.

    python benchmarks/speed.py              # about a minute on 2 cores
    python benchmarks/speed.py --repeats 3

The configuration is fixed so that the three are doing the same work: a 784-128-10 ReLU network, plain SGD
(no momentum), batch 128, one epoch over the 50,000 training images, no augmentation.
- project:      one epoch of train.py's training loop (shuffle, forward, backward, update).
- GEMM only:    the five matrix multiplications of each mini-batch alone, on arrays of the same shapes;
                everything else the epoch does is overhead on top of this floor.
- scikit-learn: MLPClassifier doing the same epoch, if scikit-learn happens to be installed (it is not a
                dependency of this project; `pip install scikit-learn` to include it).
Each is repeated, interleaved with the others so that machine noise hits all of them alike, and the
median is reported. The ratios come from the same run.
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

HIDDEN_SIZE = 128
BATCH_SIZE = 128
LEARNING_RATE = 0.1


def project_epoch(network, optimizer, train_images, train_labels, val_images, val_labels):
    """Seconds for one more epoch of the project's own training loop (train.train) on `network`.

    The benchmark keeps training the same network, so later repeats time a network that has become
    confident, which is when subnormal numbers would appear and slow things down if they were not flushed.
    """
    args = train.parse_arguments(
        [
            "--hidden-size",
            str(HIDDEN_SIZE),
            "--batch-size",
            str(BATCH_SIZE),
            "--epochs",
            "1",
            "--learning-rate",
            str(LEARNING_RATE),
            "--momentum",
            "0",
            "--schedule",
            "constant",
            "--augment",
            "none",
        ]
    )
    history, _ = train.train(
        network, optimizer, train_images, train_labels, val_images, val_labels, args, log=lambda line: None
    )
    return history[0]["seconds"]


def gemm_only_epoch(train_images):
    """Seconds for the matrix products alone: per mini-batch, 2 forward and 3 backward products."""
    rng = np.random.default_rng(0)
    w1 = rng.standard_normal((784, HIDDEN_SIZE), dtype=np.float32)
    w2 = rng.standard_normal((HIDDEN_SIZE, 10), dtype=np.float32)
    started = time.perf_counter()
    for start in range(0, len(train_images), BATCH_SIZE):
        x = train_images[start : start + BATCH_SIZE]  # (B, 784), a view: no copy
        hidden = x @ w1  # (B, 784) @ (784, 128) -> (B, 128)
        scores = hidden @ w2  # (B, 128) @ (128, 10) -> (B, 10)
        _ = hidden.T @ scores  # dW2: (128, B) @ (B, 10) -> (128, 10)
        delta = scores @ w2.T  # dH:  (B, 10) @ (10, 128) -> (B, 128)
        _ = x.T @ delta  # dW1: (784, B) @ (B, 128) -> (784, 128)
    return time.perf_counter() - started


def sklearn_epoch(train_images, train_labels):
    """Seconds per epoch of scikit-learn's MLPClassifier doing the same work, or None if it is not installed."""
    try:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier
    except ImportError:
        return None
    model = MLPClassifier(
        hidden_layer_sizes=(HIDDEN_SIZE,),
        activation="relu",
        solver="sgd",
        batch_size=BATCH_SIZE,
        learning_rate_init=LEARNING_RATE,
        momentum=0.0,
        nesterovs_momentum=False,
        alpha=0.0,
        max_iter=1,
        shuffle=True,
        random_state=0,
    )
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # one epoch is "not converged", as intended
        model.fit(train_images, train_labels)
    return time.perf_counter() - started


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="runs of each measurement (default: %(default)s)")
    parser.add_argument("--data-dir", default="data", help="folder with the MNIST files (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        train_images, train_labels, val_images, val_labels = data_loader.load_training_data(args.data_dir, 10000)
    except data_loader.DataError as error:
        sys.exit(f"error: {error}")

    network = Network([train_images.shape[1], HIDDEN_SIZE, 10], seed=0)
    optimizer = SGD(momentum=0)
    timings = {"project": [], "gemm": [], "sklearn": []}
    for _ in range(args.repeats):
        timings["project"].append(project_epoch(network, optimizer, train_images, train_labels, val_images, val_labels))
        timings["gemm"].append(gemm_only_epoch(train_images))
        sklearn_seconds = sklearn_epoch(train_images, train_labels)
        if sklearn_seconds is not None:
            timings["sklearn"].append(sklearn_seconds)
    project, gemm = statistics.median(timings["project"]), statistics.median(timings["gemm"])

    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"NumPy {np.__version__}"
    )
    print(
        f"Epoch of 784-{HIDDEN_SIZE}-10, plain SGD, batch {BATCH_SIZE}, {len(train_images):,} images, "
        f"median of {args.repeats}:"
    )
    print(f"  project epoch          {project:.3f}s")
    print(f"  GEMM only (the floor)  {gemm:.3f}s")
    print(f"  project / GEMM only    {project / gemm:.2f}x   (target: at most 1.25x)")
    if timings["sklearn"]:
        import sklearn

        scikit = statistics.median(timings["sklearn"])
        print(f"  scikit-learn {sklearn.__version__:<9} {scikit:.3f}s")
        print(f"  project / scikit-learn {project / scikit:.2f}x   (target: at most 0.8x)")
    else:
        print("  scikit-learn           not installed, skipped")


if __name__ == "__main__":
    main()
