"""The network's hand-written math, checked against finite differences and by its promises."""

from types import SimpleNamespace

import numpy as np
import pytest

import train
from network import ACTIVATIONS, Network, log_softmax, softmax, softmax_cross_entropy
from optimizers import SGD

from conftest import gradient_check, gradients_of_a_step


def float64_network(layer_sizes, seed=0, activation="relu"):
    """A network whose arrays are float64, so finite differences are accurate to many digits."""
    net = Network(layer_sizes, seed=seed, activation=activation)
    net.weights = [weight.astype(np.float64) for weight in net.weights]
    net.biases = [np.random.default_rng(seed + 1).normal(0, 0.1, bias.shape) for bias in net.biases]
    return net


@pytest.mark.parametrize(
    "layer_sizes, l2, dropout, activation",
    [([12, 7, 5], 0.0, 0.0, "relu"), ([12, 6, 5, 4], 0.0, 0.0, "relu"), ([12, 7, 5], 0.1, 0.0, "relu"),
     ([12, 8, 6, 5], 0.0, 0.5, "relu"), ([12, 8, 5], 0.05, 0.3, "relu"), ([12, 7, 6, 5], 0.0, 0.0, "tanh"),
     ([12, 7, 6, 5], 0.0, 0.3, "sigmoid")],
)  # fmt: skip
def test_gradient_check_every_parameter(layer_sizes, l2, dropout, activation):
    rng = np.random.default_rng(1)
    images = rng.random((9, layer_sizes[0]))  # float64
    labels = rng.integers(0, layer_sizes[-1], size=9)
    net = float64_network(layer_sizes, activation=activation)
    assert len(net.parameters()) == 2 * (len(layer_sizes) - 1)
    gradient_check(net, images, labels, l2=l2, dropout=dropout)


def test_l2_adds_l2_times_the_weights_to_their_gradients_only():
    net = float64_network([12, 7, 5])
    images, labels = np.random.default_rng(3).random((4, 12)), np.array([0, 1, 2, 3])
    plain = gradients_of_a_step(net, images, labels)
    penalised = gradients_of_a_step(net, images, labels, l2=0.1)
    for index, (a, b) in enumerate(zip(plain, penalised)):
        expected = 0.1 * net.parameters()[index] if index % 2 == 0 else 0  # weights, not biases
        np.testing.assert_allclose(b - a, expected, atol=1e-12)


def test_dropout_is_off_at_evaluation_and_on_in_training():
    net = Network([20, 50, 10], seed=0)
    images = np.random.default_rng(4).random((8, 20), dtype=np.float32)
    without, cache = net.forward(images)
    assert cache["masks"] == [None, None]
    np.testing.assert_array_equal(net.predict_probabilities(images), net.predict_probabilities(images))
    np.testing.assert_allclose(net.predict_probabilities(images), softmax(without), rtol=1e-6)
    with_dropout, cache = net.forward(images, dropout=0.5, rng=np.random.default_rng(0))
    mask = cache["masks"][1]  # the mask of the hidden layer, which the output layer reads
    assert not np.allclose(with_dropout, without)
    kept = mask > 0
    assert 0.35 < kept.mean() < 0.65
    np.testing.assert_allclose(mask[kept], 2.0)  # kept units are scaled by 1 / (1 - 0.5)
    np.testing.assert_array_equal(cache["inputs"][1], cache["activations"][1] * mask)


def test_softmax_and_loss_are_stable_on_huge_logits():
    logits = np.array([[1e30, 0, -1e30], [3e4, 3e4, -3e4], [-5e3, 80, 0]], dtype=np.float32)
    probabilities = softmax(logits)
    assert np.all(np.isfinite(probabilities))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(probabilities[1, :2], [0.5, 0.5])
    loss, gradient = softmax_cross_entropy(logits, np.array([0, 1, 2]))
    assert np.isfinite(loss) and np.all(np.isfinite(gradient))
    assert loss == pytest.approx((0 + np.log(2) + 80) / 3, rel=1e-5)
    assert np.all(np.isfinite(log_softmax(logits)))


def test_softmax_cross_entropy_matches_the_textbook_formula():
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(5, 10))
    labels = rng.integers(0, 10, 5)
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    loss, gradient = softmax_cross_entropy(logits, labels)
    assert loss == pytest.approx(-np.mean(np.log(probabilities[np.arange(5), labels])))
    expected = (probabilities - np.eye(10)[labels]) / 5
    np.testing.assert_allclose(gradient, expected, atol=1e-12)


def test_he_initialization_statistics_and_float32():
    net = Network([784, 400, 10], seed=3)
    assert all(array.dtype == np.float32 for array in net.parameters())
    assert net.weights[0].std() == pytest.approx(np.sqrt(2 / 784), rel=0.02)
    assert net.weights[1].std() == pytest.approx(np.sqrt(2 / 400), rel=0.05)
    assert not net.biases[0].any()


SETTINGS = SimpleNamespace(l2=0.0, dropout=0.0, clip_norm=0.0)


def train_a_little(seed):
    rng = np.random.default_rng(5)
    images = rng.random((64, 20), dtype=np.float32)
    labels = rng.integers(0, 10, 64)
    net = Network([20, 16, 10], seed=seed)
    optimizer = SGD(momentum=0.9)
    settings = SimpleNamespace(l2=1e-4, dropout=0.2, clip_norm=1.0)
    for start in range(0, 64, 16):
        batch = slice(start, start + 16)
        train.train_step(net, optimizer, images[batch], labels[batch], 0.1, settings, np.random.default_rng(start))
    return net


def test_same_seed_gives_bit_identical_weights():
    first, second, other = train_a_little(seed=7), train_a_little(seed=7), train_a_little(seed=8)
    for a, b in zip(first.parameters(), second.parameters()):
        assert a.dtype == np.float32
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first.weights[0], other.weights[0])


def test_overfits_a_tiny_batch():
    rng = np.random.default_rng(6)
    images = rng.random((32, 50), dtype=np.float32)
    labels = rng.integers(0, 10, 32)
    net = Network([50, 64, 10], seed=0)
    optimizer = SGD(momentum=0.9)
    assert net.evaluate(images, labels)[1] < 0.5
    for _ in range(300):
        loss, correct, _ = train.train_step(net, optimizer, images, labels, 0.05, SETTINGS, None)
    assert net.evaluate(images, labels)[1] == 1.0
    assert loss < 0.05


def test_evaluate_and_predict_agree():
    rng = np.random.default_rng(7)
    images = rng.random((25, 30), dtype=np.float32)
    labels = rng.integers(0, 10, 25)
    net = Network([30, 8, 10], seed=1)
    loss, accuracy = net.evaluate(images, labels)
    probabilities = net.predict_probabilities(images)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
    assert accuracy == np.mean(probabilities.argmax(axis=1) == labels)
    assert loss == pytest.approx(-np.mean(np.log(probabilities[np.arange(25), labels])), rel=1e-5)


def test_float32_in_float32_out():
    net = Network([30, 16, 10], seed=0)
    images = np.random.default_rng(8).random((6, 30), dtype=np.float32)
    gradients = gradients_of_a_step(net, images, np.arange(6), l2=1e-4, dropout=0.2, clip_norm=1.0)
    assert net.forward(images)[0].dtype == np.float32 and all(gradient.dtype == np.float32 for gradient in gradients)
    assert net.predict_probabilities(images).dtype == np.float32


def test_log_probabilities_in_chunks_match_one_pass():
    net = Network([30, 16, 10], seed=0)
    images = np.random.default_rng(9).random((23, 30), dtype=np.float32)
    whole = log_softmax(net.forward(images)[0])
    np.testing.assert_allclose(net.log_probabilities(images, chunk_size=7), whole, rtol=1e-6)


def test_a_training_step_clips_a_freak_gradient_and_reports_its_norm():
    net = Network([12, 7, 5], seed=0)
    images = np.random.default_rng(3).random((4, 12), dtype=np.float32) * 1000  # absurd inputs: a huge gradient
    optimizer = SGD(momentum=0)
    before = [parameter.copy() for parameter in net.parameters()]
    settings = SimpleNamespace(l2=0.0, dropout=0.0, clip_norm=0.5)
    _, _, norm = train.train_step(net, optimizer, images, np.array([0, 1, 2, 3]), 1.0, settings, None)
    assert norm > 0.5  # the gradient was longer than the clip norm...
    step = np.sqrt(sum(((after - start) ** 2).sum() for after, start in zip(net.parameters(), before)))
    assert step == pytest.approx(0.5, rel=1e-4)  # ...so the step of learning rate 1 was exactly 0.5 long


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_backward_gives_the_inputs_gradient_for_a_network_feeding_this_one(activation):
    net = Network([6, 5, 4, 3], seed=0, activation=activation)
    X = np.random.default_rng(0).random((2, 6))
    Z, cache = net.forward(X)
    dZ = np.random.default_rng(1).random((2, 3))
    assert net.backward(cache, dZ)[1] is None  # not asked for: the images need no gradient
    _, dX = net.backward(cache, dZ, input_gradient=True)
    epsilon = 1e-6  # X moves by epsilon * direction
    direction = np.random.default_rng(2).random((2, 6))
    moved, _ = net.forward(X + epsilon * direction)
    expected = ((moved - Z) * dZ).sum() / epsilon  # how the output term <dZ, Z> changes along the direction
    assert (dX * direction).sum() == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_each_activations_derivative_is_its_slope(activation):
    f, derivative = ACTIVATIONS[activation]
    Z = np.linspace(-6, 6, 121)[np.abs(np.linspace(-6, 6, 121)) > 1e-3]  # away from relu's kink at 0
    slope = (f(Z + 1e-6) - f(Z - 1e-6)) / 2e-6
    np.testing.assert_allclose(derivative(f(Z)), slope, atol=1e-8)
    assert f(np.float32([-1e4, 0, 1e4])).dtype == np.float32 and np.isfinite(f(np.float32([-1e4, 1e4]))).all()


@pytest.mark.parametrize("init, expected_std", [("he", np.sqrt(2 / 784)), ("xavier", np.sqrt(2 / (784 + 400))),
                                                ("small", 0.01)])  # fmt: skip
def test_each_initialization_draws_the_standard_deviation_of_its_rule(init, expected_std):
    net = Network([784, 400, 10], seed=3, init=init)
    assert net.weights[0].dtype == np.float32 and net.weights[0].std() == pytest.approx(expected_std, rel=0.02)


def test_the_default_initialization_is_he_with_the_same_random_numbers():
    """The default network draws exactly what it drew before init became a choice: its runs stay bit-identical."""
    rng = np.random.default_rng(4)
    expected = rng.standard_normal((784, 32), dtype=np.float32) * np.float32(np.sqrt(2.0 / 784))
    np.testing.assert_array_equal(Network([784, 32, 10], seed=4).weights[0], expected)


@pytest.mark.parametrize("layer_sizes", [[30, 8, 10], [30, 8, 6, 10], [30, 10]])
def test_the_votes_of_the_last_hidden_layer_add_up_to_the_scores(layer_sizes):
    net = Network(layer_sizes, seed=0)
    net.biases[-1][:] = np.random.default_rng(1).normal(0, 1, 10)
    x = np.random.default_rng(2).random(30, dtype=np.float32)
    votes = net.votes(x)
    assert votes.shape == (layer_sizes[-2], 10)
    np.testing.assert_allclose(votes.sum(axis=0) + net.biases[-1], net.forward(x[None])[0][0], rtol=1e-5, atol=1e-5)
