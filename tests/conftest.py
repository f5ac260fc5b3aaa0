"""Shared test helpers: an independent IDX writer and a small slice of the real MNIST data."""

import gzip
import os
import select
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import train
from gradient_check import TOLERANCE, RecordingOptimizer, backpropagated, check
from network import Network
from optimizers import SGD
from support.model_files import save_model

os.environ["MPLBACKEND"] = "Agg"  # figures go to files only, here and in every script the tests start

REPOSITORY = Path(__file__).resolve().parent.parent
REAL_DATA = REPOSITORY / "data"
CANONICAL_NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def idx_bytes(array, magic=None):
    """The IDX encoding of a uint8 array, written with struct rather than with the code under test."""
    array = np.asarray(array, dtype=np.uint8)
    if magic is None:
        magic = 2051 if array.ndim == 3 else 2049
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", size) for size in array.shape)
    return header + array.tobytes()


def write_idx(path, array, magic=None):
    """Write `array` as an IDX file, gzip-compressed when the name ends in .gz."""
    content = idx_bytes(array, magic)
    path = Path(path)
    path.write_bytes(gzip.compress(content) if path.suffix == ".gz" else content)
    return path


def write_dataset(folder, train_images, train_labels, test_images, test_labels, suffix=".gz"):
    """A data folder holding the four files."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train_images": train_images,
        "train_labels": train_labels,
        "test_images": test_images,
        "test_labels": test_labels,
    }
    for key, array in arrays.items():
        write_idx(folder / (CANONICAL_NAMES[key] + suffix), array)
    return folder


def read_real(key):
    """A raw uint8 array from the committed MNIST files, parsed here independently of data_loader."""
    content = gzip.decompress((REAL_DATA / (CANONICAL_NAMES[key] + ".gz")).read_bytes())
    if key.endswith("images"):
        count, rows, columns = struct.unpack(">III", content[4:16])
        return np.frombuffer(content, np.uint8, offset=16).reshape(count, rows, columns)
    return np.frombuffer(content, np.uint8, offset=8)


def photo_of_a_digit(digit, height, width, seed=0):
    """A synthetic phone photo (height, width, 3) uint8 of an MNIST `digit` (28x28 uint8, light on dark).

    The digit is enlarged to half the photo's shorter side and written dark onto paper that is lit
    unevenly (bright in the top left, darker towards the bottom right) and noisy, like a camera's picture.
    """
    rng = np.random.default_rng(seed)
    rows = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    columns = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    paper = 0.92 - 0.25 * rows - 0.15 * columns  # (height, width) brightness in [0, 1]
    scale = min(height, width) // 2 // 28
    ink = np.kron(digit.astype(np.float32) / 255, np.ones((scale, scale), np.float32))  # the digit, enlarged
    top, left = (height - len(ink)) // 3, (width - len(ink)) // 2
    paper[top : top + len(ink), left : left + len(ink)] *= 1 - 0.8 * ink  # dark ink: 20% of the paper's light
    paper += rng.standard_normal((height, width), dtype=np.float32) * 0.03
    grey = np.clip(paper * 255, 0, 255).astype(np.uint8)
    return np.stack([grey, grey, (0.9 * grey).astype(np.uint8)], axis=-1)  # slightly yellow paper


@pytest.fixture(scope="session")
def small_mnist(tmp_path_factory):
    """A data folder with the first 3,000 real training images and the first 1,000 test images."""
    folder = tmp_path_factory.mktemp("small_mnist")
    return write_dataset(
        folder,
        read_real("train_images")[:3000],
        read_real("train_labels")[:3000],
        read_real("test_images")[:1000],
        read_real("test_labels")[:1000],
    )


@pytest.fixture(scope="session")
def trained_model_path(tmp_path_factory):
    """A 784-128-10 network trained here for 3 epochs on 20,000 real digits (95.5% of the test set),
    saved to a file: the tests do not depend on whatever model_weights.npz a learner has saved."""
    images = read_real("train_images")[:20000].reshape(20000, 784) / np.float32(255)
    labels = read_real("train_labels")[:20000].astype(np.int64)
    network, optimizer, rng = Network([784, 128, 10], seed=0), SGD(momentum=0.9), np.random.default_rng(0)
    settings = SimpleNamespace(l2=0.0, dropout=0.0, clip_norm=0.0)
    for _ in range(3):
        order = rng.permutation(len(images))
        for start in range(0, len(images), 128):
            batch = order[start : start + 128]
            train.train_step(network, optimizer, images[batch], labels[batch], 0.1, settings, rng)
    path = tmp_path_factory.mktemp("model") / "model.npz"
    save_model(network, path)
    return path


def start_interruptible(command):
    """Start `command` with its output piped, ready for a Ctrl-C (SIGINT) from the test. POSIX only.

    A shell that runs the tests in the background starts them with SIGINT ignored, and a child inherits
    that: Python would then never raise KeyboardInterrupt. So the child gets the default handling back.
    """
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip


def line_starting_with(process, prefix, seconds=60):
    """The first line of a running process's output (text, from start_interruptible) that starts with `prefix`.

    Reads the pipe without blocking, with a deadline: when the program ends or stays silent, the test fails
    instead of waiting forever. What was read after the line is kept for `finish`. POSIX only.
    """
    deadline, pending = time.monotonic() + seconds, getattr(process, "pending", "")
    while True:
        while "\n" in pending:
            line, pending = pending.split("\n", 1)
            if line.startswith(prefix):
                process.pending = pending
                return line + "\n"
        remaining = deadline - time.monotonic()
        ready = remaining > 0 and select.select([process.stdout], [], [], remaining)[0]
        chunk = os.read(process.stdout.fileno(), 65536).decode() if ready else ""
        if not chunk:  # the deadline passed, or the program closed its output: it ended
            process.kill()
            output, errors = process.communicate(timeout=10)
            pytest.fail(f"no line starting with {prefix!r} within {seconds} s: {pending + output!r} {errors!r}")
        pending += chunk


def finish(process, seconds=60):
    """(the rest of the output, the errors) of a process started by start_interruptible, once it has ended."""
    rest, errors = process.communicate(timeout=seconds)
    return getattr(process, "pending", "") + rest, errors


def run_script(script, *arguments, timeout=120, **popen_options):
    """Run one of the project's scripts with this Python; returns the CompletedProcess."""
    return subprocess.run(
        [sys.executable, str(REPOSITORY / script), *map(str, arguments)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=popen_options.pop("cwd", REPOSITORY),
        **popen_options,
    )


MEMORY_CAP = """
import os, resource
address_space_now = int(open("/proc/self/statm").read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
resource.setrlimit(resource.RLIMIT_AS, (address_space_now + {extra_megabytes} * 2**20,) * 2)
"""
memory_cap_works = pytest.mark.skipif(
    not Path("/proc/self/statm").exists(), reason="measuring and capping a process's memory this way needs Linux"
)


def run_with_memory_cap(imports, code, extra_megabytes=300):
    """Run Python `imports`, then `code` with the address space capped at what the imports took plus
    `extra_megabytes`: an allocation beyond that raises MemoryError. Returns the CompletedProcess.

    OpenBLAS, which NumPy uses, reserves memory for every thread it starts: one thread keeps that small.
    """
    script = "\n".join([imports, MEMORY_CAP.format(extra_megabytes=extra_megabytes), code])
    environment = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=REPOSITORY, env=environment
    )


def is_png(path):
    return Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def gradients_of_a_step(model, images, labels, l2=0.0, dropout=0.0, clip_norm=0.0):
    """The gradients that train.train_step computes for one mini-batch, in the order of model.parameters()."""
    optimizer = RecordingOptimizer()
    settings = SimpleNamespace(l2=l2, dropout=dropout, clip_norm=clip_norm)
    train.train_step(model, optimizer, images, labels, 0.1, settings, np.random.default_rng(2))
    return optimizer.gradients


def gradient_check(model, images, labels, l2=0.0, dropout=0.0):
    """Every gradient of a training step of `model` (in float64) agrees with finite differences of the loss, written
    out independently in gradient_check.py, and none of them is all zero (the check compared real gradients)."""
    for name, shape, error in check(model, images, labels, l2=l2, dropout=dropout):
        assert error < TOLERANCE, f"{name} {shape}: relative error {error:.1e}"
    assert all(np.abs(gradient).max() > 1e-6 for gradient in backpropagated(model, images, labels, l2, dropout))
