"""The convolutional network's hand-written math: every fast piece against a plain loop version of it, and a gradient
check that reaches every branch of the backward pass, and fails when any of them is deleted."""

from pathlib import Path
from types import ModuleType, SimpleNamespace

import numpy as np
import pytest

import conv_network
import gradient_check
import train
import visualize
from conv_network import ConvNetwork, col2im, im2col, max_pool, max_pool_backward
from gradient_check import EPSILON, TOLERANCE, check, in_float64, networks_to_check
from network import ACTIVATIONS, Network, relu
from optimizers import make_optimizer
from support.model_files import ModelFileError, load_model, save_model

from conftest import gradients_of_a_step, is_png, run_script

# ----- the plain loop versions that the fast pieces are checked against -------------------------------------
# The network keeps the convolution layers' arrays as (channels, height, width, batch); the loops below index
# them one number at a time, and the convolution and the forward pass are written with the images as
# (batch, height, width, channels), the textbook way.


def batch_first(images):
    """(C, H, W, B) <-> (B, H, W, C): swapping the first and last axes, its own inverse."""
    return images.transpose(3, 1, 2, 0)


def loop_im2col(images, kernel_size):
    """im2col by its definition: row (row, column, channel) and column (i, j, b) of the matrix hold pixel
    (i + row, j + column) of channel `channel` of image b."""
    channels, height, width, batch = images.shape
    out_height, out_width = height - kernel_size + 1, width - kernel_size + 1
    columns = np.zeros((kernel_size * kernel_size * channels, out_height * out_width * batch))
    for row, column, channel, i, j, b in np.ndindex(kernel_size, kernel_size, channels, out_height, out_width, batch):
        entry = (row * kernel_size + column) * channels + channel
        position = (i * out_width + j) * batch + b
        columns[entry, position] = images[channel, i + row, j + column, b]
    return columns


def loop_col2im(column_gradients, image_shape, kernel_size):
    """The transpose of loop_im2col, one number at a time: every entry's gradient added back onto the pixel it
    was copied from."""
    channels, height, width, batch = image_shape
    out_height, out_width = height - kernel_size + 1, width - kernel_size + 1
    images = np.zeros(image_shape)
    for row, column, channel, i, j, b in np.ndindex(kernel_size, kernel_size, channels, out_height, out_width, batch):
        entry = (row * kernel_size + column) * channels + channel
        position = (i * out_width + j) * batch + b
        images[channel, i + row, j + column, b] += column_gradients[entry, position]
    return images


def loop_convolution(images, filters, kernel_size):
    """out[b, i, j, f] = sum over the patch at (i, j) of image * filter: four nested loops, no tricks.
    images: (B, H, W, C), filters: (K * K * C, F) in (row, column, channel) order."""
    batch, height, width, channels = images.shape
    kernels = filters.reshape(kernel_size, kernel_size, channels, -1)
    out = np.zeros((batch, height - kernel_size + 1, width - kernel_size + 1, kernels.shape[3]))
    for b in range(batch):
        for i in range(out.shape[1]):
            for j in range(out.shape[2]):
                patch = images[b, i : i + kernel_size, j : j + kernel_size, :]  # (K, K, C)
                out[b, i, j] = np.tensordot(patch, kernels, axes=3)
    return out


def loop_max_pool(images):
    """2x2 max-pooling over axes 1 and 2 (height and width, in either layout) and its backward routing, one
    block at a time; ties go to the first in reading order."""
    first, height, width, last = images.shape
    pooled = np.zeros((first, height // 2, width // 2, last))
    routes = {}
    for a, i, j, z in np.ndindex(pooled.shape):
        block = [images[a, 2 * i + di, 2 * j + dj, z] for di in (0, 1) for dj in (0, 1)]
        winner = int(np.argmax(block))  # the first maximum
        pooled[a, i, j, z] = block[winner]
        routes[a, i, j, z] = (a, 2 * i + winner // 2, 2 * j + winner % 2, z)
    return pooled, routes


def loop_max_pool_backward(pooled_gradient, routes, image_shape):
    """Each block's gradient added to the one value that won it."""
    gradient = np.zeros(image_shape)
    for block, position in routes.items():
        gradient[position] += pooled_gradient[block]
    return gradient


# (channels, height, width, batch, kernel): odd and even sides, 1 and several channels, batch 1 and more
CONVOLUTION_SHAPES = [(1, 5, 5, 1, 3), (4, 6, 9, 1, 2), (3, 9, 8, 3, 4), (1, 8, 7, 2, 5), (2, 7, 6, 4, 1)]
POOLING_SHAPES = [(1, 2, 2, 1), (3, 6, 4, 1), (1, 4, 10, 3), (5, 8, 6, 2)]  # (channels, height, width, batch)


@pytest.mark.parametrize("channels, height, width, batch, kernel", CONVOLUTION_SHAPES)
def test_im2col_matches_its_definition_and_convolves(channels, height, width, batch, kernel):
    rng = np.random.default_rng(0)
    images = rng.normal(size=(channels, height, width, batch))
    columns = im2col(images, kernel)
    np.testing.assert_array_equal(columns, loop_im2col(images, kernel))
    filters = rng.normal(size=(kernel * kernel * channels, 5))  # 5 filters
    fast = (filters.T @ columns).reshape(5, height - kernel + 1, width - kernel + 1, batch)  # as ConvNetwork does
    expected = loop_convolution(batch_first(images), filters, kernel)  # (B, OH, OW, 5)
    np.testing.assert_allclose(batch_first(fast), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("channels, height, width, batch, kernel", CONVOLUTION_SHAPES)
def test_col2im_is_the_transpose_of_im2col(channels, height, width, batch, kernel):
    """col2im matches the loop version, and for a linear map A and its transpose: <A x, y> = <x, A.T y>."""
    rng = np.random.default_rng(1)
    images = rng.normal(size=(channels, height, width, batch))
    column_gradients = rng.normal(size=im2col(images, kernel).shape)
    fast = col2im(column_gradients, images.shape, kernel)
    np.testing.assert_allclose(fast, loop_col2im(column_gradients, images.shape, kernel), rtol=1e-12, atol=1e-12)
    assert np.vdot(im2col(images, kernel), column_gradients) == pytest.approx(np.vdot(images, fast), rel=1e-10)


def check_pooling_against_loops(images):
    """max_pool and max_pool_backward give what the loops give, bit for bit, and one winner per block."""
    pooled, winners = max_pool(images)
    expected, routes = loop_max_pool(images)
    np.testing.assert_array_equal(pooled, expected)
    channels, height, width, batch = images.shape
    per_block = winners.reshape(channels, height // 2, 2, width // 2, 2, batch).sum(axis=(2, 4))
    assert (per_block == 1).all()  # exactly one winner in every block, ties or not
    pooled_gradient = np.random.default_rng(3).normal(size=pooled.shape)
    expected_gradient = loop_max_pool_backward(pooled_gradient, routes, images.shape)
    np.testing.assert_array_equal(max_pool_backward(pooled_gradient, winners), expected_gradient)


@pytest.mark.parametrize("shape", POOLING_SHAPES)
def test_max_pool_forward_and_backward_match_loops_with_ties(shape):
    images = np.random.default_rng(2).integers(0, 3, size=shape).astype(np.float64)  # values 0-2: many ties
    check_pooling_against_loops(images)


@pytest.mark.parametrize("channels, batch", [(1, 1), (3, 2)])
def test_max_pool_sends_every_kind_of_tie_to_the_first_value(channels, batch):
    """All 3^4 = 81 blocks of values 0-2, side by side: every way four values can tie."""
    blocks = np.array(np.meshgrid(*[range(3)] * 4, indexing="ij")).reshape(4, -1).T  # (81, 4) in reading order
    image = blocks.reshape(81, 2, 2).transpose(1, 0, 2).reshape(2, 162)  # block k in columns 2k and 2k + 1
    scales = np.arange(1, channels * batch + 1).reshape(channels, 1, 1, batch)  # the same pattern, scaled
    check_pooling_against_loops((image[None, :, :, None] * scales).astype(np.float32))
    _, winners = max_pool(np.ones((1, 2, 2, 1)))
    assert winners[0, :, :, 0].tolist() == [[True, False], [False, False]]  # four equal values: top-left wins


def test_max_pool_refuses_odd_sizes():
    with pytest.raises(ValueError):
        max_pool(np.zeros((2, 5, 4, 1)))


def textbook_forward(net, images):
    """The network's scores, and every layer's activated responses f(Z + b), computed by loops in the textbook
    order and layout: convolution plus bias, then the activation, then the pooling, with the images as
    (B, H, W, C). (The network pools first, which gives the same, and keeps the batch last.)"""
    f = ACTIVATIONS[net.activation][0]
    H = images.reshape(len(images), *net.image_shape, 1)
    maps = []
    for W, b in zip(net.conv_weights, net.conv_biases):
        maps.append(f(loop_convolution(H, W, net.kernel_size) + b))  # (B, OH, OW, C_out)
        H, _ = loop_max_pool(maps[-1])  # (B, OH / 2, OW / 2, C_out)
    scores, _ = Network.forward(net, H.reshape(len(H), -1))  # the fully connected layers
    return scores, maps


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_forward_pass_and_feature_maps_match_loops_in_the_textbook_order(activation):
    net = in_float64(ConvNetwork(conv_channels=(3, 4), hidden_sizes=(5,), kernel_size=3, image_shape=(14, 10),
                                 activation=activation))  # fmt: skip
    images = np.random.default_rng(4).random((2, 140))
    images[1, :70] = 0  # a blank half: ties in the pooling
    scores, maps = textbook_forward(net, images)
    np.testing.assert_allclose(net.forward(images)[0], scores, rtol=1e-12)
    for fast, slow in zip(net.feature_maps(images[1]), maps):
        np.testing.assert_allclose(fast, slow[1], rtol=1e-12, atol=1e-15)


# ----- the gradient check, and what it reaches --------------------------------------------------------------


def convolutional_case():
    """gradient_check.py's case for the convolutional network: (description, model, images, labels, l2, dropout)."""
    return next(case for case in networks_to_check() if case[0].startswith("convolutional"))


def branches_reached(model, images, dropout):
    """What the gradient check's input exercises, counted layer by layer, and `margin`, the smallest distance of
    any value from a kink, where finite differences would be wrong.

    The kinks: 0 for the values relu reads (a pooled response plus its bias; a hidden unit's Z), and in a pooling
    block, the winner's value for the values below it. Tied winners are no kink when their patches are the same
    (blank background), so that they stay tied whatever weight the check nudges: that is asserted here.
    """
    counts, margins = {}, []
    H = images.T.reshape(1, *model.image_shape, len(images))  # (1, 14, 14, B), as ConvNetwork.forward
    for layer, bias in enumerate(model.conv_biases):
        columns, Z, _, H = model.convolve(H, layer)  # Z: (C, OH, OW, B), the filters' responses before pooling
        patches = columns.reshape(len(columns), *Z.shape[1:])  # (K * K * C_in, OH, OW, B)
        pooled = loop_max_pool(Z)[0] + bias[:, None, None, None]  # (C, OH / 2, OW / 2, B): what relu reads
        margins.append(np.abs(pooled).min())
        name = f"conv {layer + 1}"
        counts[f"{name}: below 0, no gradient passes"] = int(np.sum(pooled < 0))
        counts[f"{name}: above 0, the gradient passes"] = int(np.sum(pooled > 0))
        counts[f"{name}: tied winners that pass a gradient"] = 0
        for c, i, j, b in np.ndindex(pooled.shape):
            positions = [(2 * i + di, 2 * j + dj, b) for di in (0, 1) for dj in (0, 1)]
            values = np.array([Z[(c, *position)] for position in positions])
            best = values.max()
            margins.extend(best - values[values < best])
            tied = [position for position, value in zip(positions, values) if value == best]
            assert all(np.array_equal(patches[(..., *tied[0])], patches[(..., *position)]) for position in tied)
            counts[f"{name}: tied winners that pass a gradient"] += int(len(tied) > 1 and pooled[c, i, j, b] > 0)
    _, cache = model.forward(images, dropout, np.random.default_rng(2))  # the dropout masks of the check
    dense = cache["dense"]
    hidden = dense["inputs"][0] @ model.weights[0] + model.biases[0]  # (B, H): what the first hidden layer's relu reads
    margins.append(np.abs(hidden).min())
    counts["dense: active units dropped"] = int(np.sum((dense["masks"][1] == 0) & (hidden > 0)))
    counts["dense: active units kept"] = int(np.sum((dense["masks"][1] > 0) & (hidden > 0)))
    return counts, float(min(margins))


def test_the_gradient_checks_input_reaches_every_branch_away_from_the_kinks():
    _, model, images, _, _, dropout = convolutional_case()
    counts, margin = branches_reached(model, images, dropout)
    assert all(count > 0 for count in counts.values()), counts
    assert margin > 100 * EPSILON, f"a value {margin:.1e} from a kink: choose other images in gradient_check.py"


def test_gradient_check_every_parameter_of_the_convolutional_network():
    _, model, images, labels, l2, dropout = convolutional_case()
    results = check(model, images, labels, l2, dropout)
    assert [name for name, _, _ in results] == ["conv W1", "conv b1", "conv W2", "conv b2", "W1", "b1", "W2", "b2"]
    for name, shape, error in results:
        assert error < TOLERANCE, f"{name} {shape}: relative error {error:.1e}"


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
@pytest.mark.parametrize("l2", [0.0, 0.01])
def test_gradient_check_with_every_activation_and_weight_decay(activation, l2):
    _, model, images, labels, _, dropout = convolutional_case()
    model.activation = activation
    for name, shape, error in check(model, images, labels, l2, dropout):
        assert error < TOLERANCE, f"{name} {shape}: relative error {error:.1e}"


# Each mask of the backward pass, replaced by a version without it: the gradient check must then fail.


def conv_relu_without_its_derivative(monkeypatch):
    """The convolution layers' f'(H) forgotten (the dense layers keep theirs): dPooled = dH."""
    monkeypatch.setattr(conv_network, "ACTIVATIONS", {**ACTIVATIONS, "relu": (relu, np.ones_like)})


def pooling_without_its_winners(monkeypatch):
    """Every block's gradient sent to all four of its values."""

    def to_all_four(pooled_gradient, winners):
        return np.repeat(np.repeat(pooled_gradient, 2, axis=1), 2, axis=2)

    monkeypatch.setattr(conv_network, "max_pool_backward", to_all_four)


def pooling_ties_to_every_tied_value(monkeypatch):
    """A block's gradient sent to every value equal to its maximum, not to the first one only."""

    def all_tied_win(images):
        pooled, _ = max_pool(images)
        return pooled, images == np.repeat(np.repeat(pooled, 2, axis=1), 2, axis=2)

    monkeypatch.setattr(conv_network, "max_pool", all_tied_win)


def dropout_forgotten_on_the_way_back(monkeypatch):
    """The dense layers' backward pass without the dropout masks (the forward pass still drops the units)."""
    backward = Network.backward

    def without_masks(self, cache, dZ, input_gradient=False):
        return backward(self, {**cache, "masks": [None] * len(cache["masks"])}, dZ, input_gradient)

    monkeypatch.setattr(Network, "backward", without_masks)


@pytest.mark.parametrize(
    "delete_mask, wrong",
    [(conv_relu_without_its_derivative, "conv W1"), (pooling_without_its_winners, "conv W1"),
     (pooling_ties_to_every_tied_value, "conv b1"), (dropout_forgotten_on_the_way_back, "W1")],
)  # fmt: skip
def test_the_gradient_check_fails_when_a_mask_is_deleted(monkeypatch, delete_mask, wrong):
    _, model, images, labels, l2, dropout = convolutional_case()
    delete_mask(monkeypatch)
    errors = {name: error for name, _, error in check(model, images, labels, l2, dropout)}
    assert errors[wrong] > TOLERANCE, errors


def test_the_gradient_check_fails_when_the_activations_derivative_is_deleted_from_the_source(monkeypatch):
    """The same, literally: conv_network.py run without the line's f'(H)."""
    source = Path(conv_network.__file__).read_text(encoding="utf-8")
    line = 'dPooled = dH * f_derivative(stage["H"])'
    assert source.count(line) == 1, line
    broken = ModuleType("conv_network_without_the_derivative")
    exec(compile(source.replace(line, "dPooled = dH"), conv_network.__file__, "exec"), broken.__dict__)
    monkeypatch.setattr(gradient_check, "ConvNetwork", broken.ConvNetwork)  # the class networks_to_check builds
    _, model, images, labels, l2, dropout = convolutional_case()
    assert type(model) is broken.ConvNetwork
    errors = {name: error for name, _, error in check(model, images, labels, l2, dropout)}
    assert errors["conv W1"] > TOLERANCE and errors["conv W2"] > TOLERANCE, errors


def test_same_seed_same_training_bit_for_bit():
    def train_a_few_steps():
        net = ConvNetwork(conv_channels=(4, 6), hidden_sizes=(16,), seed=5)
        images = np.random.default_rng(0).random((8, 784), dtype=np.float32)
        optimizer, rng = make_optimizer("momentum"), np.random.default_rng(1)
        settings = SimpleNamespace(l2=1e-4, dropout=0.5, clip_norm=0.0)
        for _ in range(3):
            train.train_step(net, optimizer, images, np.arange(8), 0.05, settings, rng)
        return net.parameters()

    for first, second in zip(train_a_few_steps(), train_a_few_steps()):
        np.testing.assert_array_equal(first, second)


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
