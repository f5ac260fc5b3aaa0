"""The convolutional network's hand-written math: gradient check, im2col and max-pooling against loops."""

from types import SimpleNamespace

import numpy as np
import pytest

import train
import visualize
from conv_network import ConvNetwork, col2im, im2col, max_pool, max_pool_backward
from network import Network
from optimizers import make_optimizer
from support.model_files import ModelFileError, load_model, save_model

from conftest import gradient_check, gradients_of_a_step, is_png, run_script


def tiny_float64_cnn(seed=0):
    """14x14 images -> conv 3x3 (2 filters) -> 12x12 -> pool 6x6 -> conv 3x3 (3) -> 4x4 -> pool 2x2 -> 4 -> 10."""
    net = ConvNetwork(conv_channels=(2, 3), hidden_sizes=(4,), kernel_size=3, seed=seed, image_shape=(14, 14))
    rng = np.random.default_rng(seed + 1)
    net.conv_weights = [weight.astype(np.float64) for weight in net.conv_weights]
    net.conv_biases = [rng.normal(0, 0.1, bias.shape) for bias in net.conv_biases]
    net.weights = [weight.astype(np.float64) for weight in net.weights]
    net.biases = [rng.normal(0, 0.1, bias.shape) for bias in net.biases]
    return net


@pytest.mark.parametrize("l2, dropout", [(0.0, 0.0), (0.01, 0.5)])
def test_gradient_check_every_parameter(l2, dropout):
    rng = np.random.default_rng(3)
    images = rng.random((3, 196))  # float64
    labels = np.array([1, 7, 4])
    net = tiny_float64_cnn()
    shapes = [parameter.shape for parameter in net.parameters()]
    assert shapes == [(9, 2), (2,), (18, 3), (3,), (12, 4), (4,), (4, 10), (10,)]
    gradient_check(net, images, labels, l2=l2, dropout=dropout)


def loop_convolution(images, filters, kernel_size):
    """out[b, i, j, f] = sum over the patch at (i, j) of image * filter: four nested loops, no tricks."""
    batch, height, width, channels = images.shape
    kernels = filters.reshape(kernel_size, kernel_size, channels, -1)
    out = np.zeros((batch, height - kernel_size + 1, width - kernel_size + 1, kernels.shape[3]))
    for b in range(batch):
        for i in range(out.shape[1]):
            for j in range(out.shape[2]):
                patch = images[b, i : i + kernel_size, j : j + kernel_size, :]  # (K, K, C)
                out[b, i, j] = np.tensordot(patch, kernels, axes=3)
    return out


def test_im2col_convolution_matches_loops():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(2, 9, 8, 3))
    filters = rng.normal(size=(4 * 4 * 3, 5))
    fast = (im2col(images, 4) @ filters).reshape(2, 6, 5, 5)
    np.testing.assert_allclose(fast, loop_convolution(images, filters, 4), rtol=1e-10)


def test_col2im_is_the_transpose_of_im2col():
    """For a linear map A and its transpose: <A x, y> = <x, A.T y>, for any x and y."""
    rng = np.random.default_rng(1)
    images = rng.normal(size=(2, 7, 6, 3))
    patches = rng.normal(size=im2col(images, 3).shape)
    left = np.vdot(im2col(images, 3), patches)
    right = np.vdot(images, col2im(patches, images.shape, 3))
    assert left == pytest.approx(right, rel=1e-10)


def loop_max_pool(images):
    """2x2 max-pooling and its backward routing, one block at a time; ties go to the first in reading order."""
    batch, height, width, channels = images.shape
    pooled = np.zeros((batch, height // 2, width // 2, channels))
    routes = {}
    for b, i, j, c in np.ndindex(pooled.shape):
        block = [images[b, 2 * i + di, 2 * j + dj, c] for di in (0, 1) for dj in (0, 1)]
        winner = int(np.argmax(block))  # the first maximum
        pooled[b, i, j, c] = block[winner]
        routes[b, i, j, c] = (b, 2 * i + winner // 2, 2 * j + winner % 2, c)
    return pooled, routes


def test_max_pool_forward_and_backward_match_loops_with_ties():
    rng = np.random.default_rng(2)
    images = rng.integers(0, 3, size=(2, 6, 8, 3)).astype(np.float64)  # values 0-2: many ties
    images[0, 0:2, 0:2, 0] = 1.0  # a block of four equal values
    pooled, winners = max_pool(images)
    expected, routes = loop_max_pool(images)
    np.testing.assert_array_equal(pooled, expected)
    pooled_gradient = rng.normal(size=pooled.shape)
    expected_gradient = np.zeros_like(images)
    for block, position in routes.items():
        expected_gradient[position] += pooled_gradient[block]
    np.testing.assert_array_equal(max_pool_backward(pooled_gradient, winners, images.shape), expected_gradient)
    assert winners[0, 0, 0, 0] == 0  # all four equal: the top-left one wins


def test_save_load_round_trip_and_model_dispatch(tmp_path):
    net = ConvNetwork(conv_channels=(4, 6), hidden_sizes=(12,), seed=3)
    path = tmp_path / "cnn.npz"
    save_model(net, path)
    loaded = load_model(path)
    assert isinstance(loaded, ConvNetwork) and loaded.conv_channels == [4, 6] and loaded.hidden_sizes == [12]
    for a, b in zip(net.parameters(), loaded.parameters()):
        np.testing.assert_array_equal(a, b)
    images = np.random.default_rng(0).random((5, 784), dtype=np.float32)
    np.testing.assert_array_equal(net.predict_probabilities(images), loaded.predict_probabilities(images))
    save_model(Network([784, 8, 10]), tmp_path / "mlp.npz")
    assert type(load_model(tmp_path / "mlp.npz")) is Network


def test_load_refuses_mismatched_filters(tmp_path):
    save_model(ConvNetwork(conv_channels=(4, 6), hidden_sizes=(12,)), tmp_path / "good.npz")
    with np.load(tmp_path / "good.npz") as saved:
        arrays = {name: saved[name] for name in saved.files}
    arrays["W2"] = np.zeros((25 * 5, 6), np.float32)  # filters for 5 input channels, not 4
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ModelFileError, match=r"W2 .*\(125, 6\).*\(100, 6\)"):
        load_model(tmp_path / "bad.npz")


def test_impossible_architecture_is_refused():
    with pytest.raises(ValueError, match="pooling cannot halve"):
        ConvNetwork(conv_channels=(2, 2, 2), image_shape=(28, 28))


def test_cnn_learns_a_small_batch():
    rng = np.random.default_rng(4)
    images = rng.random((16, 784), dtype=np.float32)
    labels = np.arange(16) % 10
    net = ConvNetwork(conv_channels=(4, 8), hidden_sizes=(32,), seed=0)
    optimizer = make_optimizer("momentum")
    settings = SimpleNamespace(l2=0.0, dropout=0.0, clip_norm=0.0)
    for _ in range(60):
        train.train_step(net, optimizer, images, labels, 0.05, settings, None)
    assert net.evaluate(images, labels)[1] == 1.0


def test_filter_and_feature_map_figures(tmp_path):
    net = ConvNetwork(conv_channels=(6, 20), hidden_sizes=(8,))
    image = np.random.default_rng(0).random(784, dtype=np.float32)
    assert [m.shape for m in net.feature_maps(image)] == [(24, 24, 6), (8, 8, 20)]
    assert is_png(visualize.plot_filters(net, tmp_path / "filters.png"))
    assert is_png(visualize.plot_feature_maps(net, image, tmp_path / "maps.png"))


def test_a_tiny_cnn_run_through_the_command_line(small_mnist, tmp_path):
    result = run_script(
        "train.py", "--model", "cnn", "--conv-channels", "4,8", "--hidden-sizes", "16", "--epochs", "1",
        "--data-dir", small_mnist, "--validation-size", "500", "--no-show", "--weights", tmp_path / "cnn.npz",
        "--results-dir", tmp_path / "results",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "28x28 -> conv 4, 8 -> 128-16-10" in result.stdout and "Test accuracy:" in result.stdout
    assert isinstance(load_model(tmp_path / "cnn.npz"), ConvNetwork)
    for name in ("filters.png", "feature_maps.png", "confusion_matrix.png"):
        assert is_png(tmp_path / "results" / name)
    predicted = run_script("predict.py", tmp_path / "results" / "filters.png", "--weights", tmp_path / "cnn.npz")
    assert predicted.returncode == 0, predicted.stderr  # predict.py takes whichever model the file holds


def test_cnn_float32_in_float32_out():
    net = ConvNetwork(conv_channels=(3, 4), hidden_sizes=(8,))
    images = np.random.default_rng(0).random((2, 784), dtype=np.float32)
    gradients = gradients_of_a_step(net, images, np.array([1, 2]), l2=1e-4)
    assert net.forward(images)[0].dtype == np.float32 and all(gradient.dtype == np.float32 for gradient in gradients)


def test_too_many_convolutions_are_a_clean_error(small_mnist, tmp_path):
    result = run_script("train.py", "--model", "cnn", "--conv-channels", "4,4,4", "--data-dir", small_mnist,
                        "--validation-size", "500", "--weights", tmp_path / "cnn.npz")  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: --conv-channels:") and "pooling cannot halve" in result.stderr
