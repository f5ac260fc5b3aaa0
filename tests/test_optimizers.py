"""Each optimizer's update rule against steps computed by hand."""

import numpy as np
import pytest

import optimizers
from optimizers import OPTIMIZERS, SGD, TINY, Adam, RMSProp, clip_by_global_norm, flush_tiny_values, make_optimizer


def one_step(optimizer, weight, gradient, learning_rate=0.1):
    weight = np.array(weight, np.float32)
    optimizer.step([weight], [np.array(gradient, np.float32)], learning_rate)
    return weight


def test_plain_sgd_step():
    np.testing.assert_allclose(one_step(SGD(momentum=0), [1.0, -2.0], [0.5, 0.25]), [0.95, -2.025])


def test_momentum_steps_by_hand():
    weight = np.array([1.0], np.float32)
    optimizer = SGD(momentum=0.9)
    optimizer.step([weight], [np.array([2.0], np.float32)], 0.1)  # v = -0.2, w = 0.8
    np.testing.assert_allclose(weight, [0.8])
    optimizer.step([weight], [np.array([1.0], np.float32)], 0.1)  # v = 0.9 * -0.2 - 0.1 = -0.28, w = 0.52
    np.testing.assert_allclose(weight, [0.52], rtol=1e-6)
    np.testing.assert_allclose(optimizer.state[0][0], [-0.28], rtol=1e-6)


def test_nesterov_steps_by_hand():
    weight = np.array([1.0], np.float32)
    optimizer = SGD(momentum=0.9, nesterov=True)
    optimizer.step([weight], [np.array([2.0], np.float32)], 0.1)  # v = -0.2; w = 1 + 0.9 * -0.2 - 0.2 = 0.62
    np.testing.assert_allclose(weight, [0.62], rtol=1e-6)
    optimizer.step([weight], [np.array([1.0], np.float32)], 0.1)  # v = -0.28; w = 0.62 - 0.252 - 0.1 = 0.268
    np.testing.assert_allclose(weight, [0.268], rtol=1e-5)


def test_rmsprop_step_by_hand():
    # s = 0.1 * 4 = 0.4; w = 1 - 0.01 * 2 / sqrt(0.4)
    weight = one_step(RMSProp(decay=0.9, epsilon=0), [1.0], [2.0], learning_rate=0.01)
    np.testing.assert_allclose(weight, [1 - 0.01 * 2 / np.sqrt(0.4)], rtol=1e-6)


def test_adam_steps_by_hand():
    weight = np.array([1.0, 1.0], np.float32)
    optimizer = Adam(epsilon=0)
    optimizer.step([weight], [np.array([2.0, -0.001], np.float32)], 0.01)
    # after one step m_hat = g and v_hat = g^2, so the step is lr * sign(g), whatever the gradient's size
    np.testing.assert_allclose(weight, [0.99, 1.01], rtol=1e-6)
    optimizer.step([weight], [np.array([1.0, -0.001], np.float32)], 0.01)
    m = (0.9 * 0.1 * 2 + 0.1 * 1) / (1 - 0.9**2)
    v = (0.999 * 0.001 * 4 + 0.001 * 1) / (1 - 0.999**2)
    np.testing.assert_allclose(weight[0], 0.99 - 0.01 * m / np.sqrt(v), rtol=1e-5)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_minimises_a_quadratic(name):
    weight = np.array([5.0, -3.0], np.float32)
    optimizer = make_optimizer(name, momentum=0.9)
    learning_rate = 0.05 if name in ("sgd", "momentum", "nesterov") else 0.1
    for step in range(500):
        optimizer.step([weight], [2 * weight.copy()], learning_rate * (1 - step / 500))  # gradient of |w|^2
    assert np.abs(weight).max() < 0.05


def test_unknown_optimizer():
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        make_optimizer("lbfgs")


def test_optimizer_state_is_flushed_before_it_turns_subnormal(monkeypatch):
    monkeypatch.setattr(optimizers, "FLUSH_EVERY", 10)
    weight = np.zeros(3, np.float32)
    optimizer = SGD(momentum=0.5)
    optimizer.step([weight], [np.array([1e-18, 1.0, 0.0], np.float32)], 1.0)
    for _ in range(9):  # gradients stop; velocities halve every step
        optimizer.step([weight], [np.zeros(3, np.float32)], 1.0)
    velocity = optimizer.state[0][0]
    assert velocity[0] == 0  # 1e-18 / 2**9 < TINY: flushed at step 10
    assert velocity[1] != 0  # 1 / 2**9 is left alone


def test_flush_tiny_values():
    array = np.array([1e-25, -1e-25, 1e-19, -3.0, 0.0, 1e-40], np.float32)
    flush_tiny_values(array)
    np.testing.assert_array_equal(array, np.array([0, 0, 1e-19, -3, 0, 0], np.float32))
    assert np.float32(1e-20) == TINY


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_a_step_leaves_the_gradients_as_they_were(name):
    gradient = np.array([0.5, -2.0], np.float32)
    make_optimizer(name).step([np.ones(2, np.float32)], [gradient], 0.1)
    np.testing.assert_array_equal(gradient, [0.5, -2.0])


def test_clip_by_global_norm():
    gradients = [np.array([3.0, 0.0], np.float32), np.array([[4.0]], np.float32)]  # global norm 5
    assert clip_by_global_norm(gradients, 10) == pytest.approx(5)
    np.testing.assert_array_equal(gradients[0], [3, 0])  # under the limit: untouched
    assert clip_by_global_norm(gradients, 1) == pytest.approx(5)
    np.testing.assert_allclose(gradients[0], [0.6, 0])  # scaled by 1/5, direction kept
    np.testing.assert_allclose(gradients[1], [[0.8]])
    assert clip_by_global_norm(gradients, 0) == pytest.approx(1)  # 0 disables clipping
