"""The network's hand-written math, checked against finite differences and by its promises."""

import zipfile

import numpy as np
import pytest

import network as network_module
from network import ModelFileError, Network, clip_by_global_norm, log_softmax, softmax, softmax_cross_entropy
from optimizers import SGD

from conftest import gradient_check


def float64_network(layer_sizes, seed=0):
    """A network whose arrays are float64, so finite differences are accurate to many digits."""
    net = Network(layer_sizes, seed=seed)
    net.weights = [weight.astype(np.float64) for weight in net.weights]
    net.biases = [np.random.default_rng(seed + 1).normal(0, 0.1, bias.shape) for bias in net.biases]
    return net


@pytest.mark.parametrize(
    "layer_sizes, l2, dropout",
    [([12, 7, 5], 0.0, 0.0), ([12, 6, 5, 4], 0.0, 0.0), ([12, 7, 5], 0.1, 0.0), ([12, 8, 6, 5], 0.0, 0.5),
     ([12, 8, 5], 0.05, 0.3)],
)  # fmt: skip
def test_gradient_check_every_parameter(layer_sizes, l2, dropout):
    rng = np.random.default_rng(1)
    images = rng.random((9, layer_sizes[0]))  # float64
    labels = rng.integers(0, layer_sizes[-1], size=9)
    net = float64_network(layer_sizes)
    assert len(net.parameters()) == 2 * (len(layer_sizes) - 1)
    gradient_check(net, images, labels, l2=l2, dropout=dropout)


def test_l2_adds_l2_times_the_weights_to_their_gradients_only():
    net = float64_network([12, 7, 5])
    images, labels = np.random.default_rng(3).random((4, 12)), np.array([0, 1, 2, 3])
    plain_loss, plain, _ = net.loss_and_gradients(images, labels)
    penalised_loss, penalised, _ = net.loss_and_gradients(images, labels, l2=0.1)
    assert penalised_loss == plain_loss  # the reported loss is the cross-entropy alone
    for index, (a, b) in enumerate(zip(plain, penalised)):
        expected = 0.1 * net.parameters()[index] if index % 2 == 0 else 0  # weights, not biases
        np.testing.assert_allclose(b - a, expected, atol=1e-12)


def test_dropout_is_off_at_evaluation_and_on_in_training():
    net = Network([20, 50, 10], seed=0)
    images = np.random.default_rng(4).random((8, 20), dtype=np.float32)
    without, cache = net.forward(images)
    assert cache["dropout_masks"] == []
    np.testing.assert_array_equal(net.predict_probabilities(images), net.predict_probabilities(images))
    np.testing.assert_allclose(net.predict_probabilities(images), softmax(without), rtol=1e-6)
    with_dropout, cache = net.forward(images, dropout=0.5, rng=np.random.default_rng(0))
    masks = cache["dropout_masks"]
    assert not np.allclose(with_dropout, without)
    kept = masks[0] > 0
    assert 0.35 < kept.mean() < 0.65
    np.testing.assert_allclose(masks[0][kept], 2.0)  # kept units are scaled by 1 / (1 - 0.5)


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


def test_clip_by_global_norm():
    gradients = [np.array([3.0, 0.0], np.float32), np.array([[4.0]], np.float32)]  # global norm 5
    assert clip_by_global_norm(gradients, 10) == pytest.approx(5)
    np.testing.assert_array_equal(gradients[0], [3, 0])  # under the limit: untouched
    assert clip_by_global_norm(gradients, 1) == pytest.approx(5)
    np.testing.assert_allclose(gradients[0], [0.6, 0])  # scaled by 1/5, direction kept
    np.testing.assert_allclose(gradients[1], [[0.8]])
    assert clip_by_global_norm(gradients, 0) == pytest.approx(1)  # 0 disables clipping


def test_he_initialization_statistics_and_float32():
    net = Network([784, 400, 10], seed=3)
    assert all(array.dtype == np.float32 for array in net.parameters())
    assert net.weights[0].std() == pytest.approx(np.sqrt(2 / 784), rel=0.02)
    assert net.weights[1].std() == pytest.approx(np.sqrt(2 / 400), rel=0.05)
    assert not net.biases[0].any()


def train_a_little(seed):
    rng = np.random.default_rng(5)
    images = rng.random((64, 20), dtype=np.float32)
    labels = rng.integers(0, 10, 64)
    net = Network([20, 16, 10], seed=seed)
    optimizer = SGD(momentum=0.9)
    for start in range(0, 64, 16):
        net.train_step(images[start : start + 16], labels[start : start + 16], optimizer, 0.1, clip_norm=1.0)
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
        loss, _ = net.train_step(images, labels, optimizer, 0.05)
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


def test_save_load_round_trip(tmp_path):
    net = train_a_little(seed=1)
    path = tmp_path / "model.npz"
    net.save(path)
    loaded = Network.load(path)
    assert loaded.layer_sizes == [20, 16, 10]
    for a, b in zip(net.parameters(), loaded.parameters()):
        np.testing.assert_array_equal(a, b)
        assert b.dtype == np.float32
    with np.load(path, allow_pickle=False) as saved:
        assert str(saved["model_type"]) == "mlp"
        assert float(saved["pixel_max"]) == 255  # the input normalisation is recorded


def saved_arrays(tmp_path):
    path = tmp_path / "good.npz"
    Network([6, 4, 3], seed=0).save(path)
    with np.load(path) as saved:
        return {name: saved[name] for name in saved.files}


def test_load_refuses_mismatched_shapes(tmp_path):
    arrays = saved_arrays(tmp_path)
    arrays["W2"] = np.zeros((5, 3), np.float32)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ModelFileError, match=r"W2 .*shape \(5, 3\).*\(4, 3\)"):
        Network.load(tmp_path / "bad.npz")


def test_load_refuses_missing_arrays(tmp_path):
    arrays = saved_arrays(tmp_path)
    del arrays["b1"]
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ModelFileError, match="b1"):
        Network.load(tmp_path / "bad.npz")


def test_load_never_unpickles(tmp_path):
    arrays = saved_arrays(tmp_path)
    arrays["W1"] = np.array([{"not": "numbers"}], dtype=object)  # np.savez pickles object arrays
    np.savez(tmp_path / "pickled.npz", **arrays)
    with pytest.raises(ModelFileError, match="pickled.npz"):
        Network.load(tmp_path / "pickled.npz")


@pytest.mark.parametrize("content", [b"", b"not a zip file at all", b"PK\x03\x04broken"])
def test_load_refuses_garbage(tmp_path, content):
    path = tmp_path / "garbage.npz"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match="garbage.npz"):
        Network.load(path)


def test_load_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        Network.load(tmp_path / "nothing.npz")


def test_failed_save_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    Network([6, 4, 3], seed=0).save(path)
    before = path.read_bytes()

    def write_half_then_fail(file, **arrays):
        file.write(b"PK\x03\x04 half a file")
        raise OSError("No space left on device")

    monkeypatch.setattr(network_module.np, "savez", write_half_then_fail)
    with pytest.raises(OSError, match="No space"):
        Network([6, 4, 3], seed=1).save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]  # no temporary file left behind
    monkeypatch.undo()
    Network.load(path)  # still a valid file


def test_saved_file_is_a_plain_npz(tmp_path):
    Network([6, 4, 3]).save(tmp_path / "model.npz")
    names = zipfile.ZipFile(tmp_path / "model.npz").namelist()
    assert sorted(names) == sorted(
        [
            "format_version.npy",
            "model_type.npy",
            "layer_sizes.npy",
            "image_shape.npy",
            "pixel_max.npy",
            "W1.npy",
            "b1.npy",
            "W2.npy",
            "b2.npy",
        ]
    )


def test_float32_in_float32_out():
    net = Network([30, 16, 10], seed=0)
    images = np.random.default_rng(8).random((6, 30), dtype=np.float32)
    loss, gradients, logits = net.loss_and_gradients(images, np.arange(6), l2=1e-4, dropout=0.2,
                                                     rng=np.random.default_rng(0))  # fmt: skip
    assert logits.dtype == np.float32 and all(gradient.dtype == np.float32 for gradient in gradients)
    assert net.predict_probabilities(images).dtype == np.float32


def test_log_probabilities_in_chunks_match_one_pass():
    net = Network([30, 16, 10], seed=0)
    images = np.random.default_rng(9).random((23, 30), dtype=np.float32)
    whole = log_softmax(net.forward(images)[0])
    np.testing.assert_allclose(net.log_probabilities(images, chunk_size=7), whole, rtol=1e-6)


def test_load_refuses_a_newer_or_malformed_format(tmp_path):
    arrays = saved_arrays(tmp_path)
    np.savez(tmp_path / "newer.npz", **{**arrays, "format_version": np.array(99)})
    with pytest.raises(ModelFileError, match="newer version"):
        Network.load(tmp_path / "newer.npz")
    np.savez(tmp_path / "odd.npz", **{**arrays, "format_version": np.array("one")})
    with pytest.raises(ModelFileError, match="malformed format_version"):
        Network.load(tmp_path / "odd.npz")


def test_load_refuses_a_single_npy_array(tmp_path):
    np.save(tmp_path / "array.npy", np.zeros(3))
    with pytest.raises(ModelFileError, match="single array"):
        Network.load(tmp_path / "array.npy")


def test_load_refuses_an_image_shape_that_does_not_fit(tmp_path):
    arrays = saved_arrays(tmp_path)
    np.savez(tmp_path / "bad.npz", **{**arrays, "image_shape": np.array([2, 2])})  # 4 pixels for 6 inputs
    with pytest.raises(ModelFileError, match="do not fit an input layer of 6"):
        Network.load(tmp_path / "bad.npz")
