"""Each optimizer's update rule against a step computed by hand."""

import numpy as np
import pytest

import optimizers
from optimizers import SGD
from subnormals import TINY, flush_tiny_values


def test_plain_sgd_step():
    weight, gradient = np.array([1.0, -2.0], np.float32), np.array([0.5, 0.25], np.float32)
    SGD(momentum=0).step([weight], [gradient.copy()], learning_rate=0.1)
    np.testing.assert_allclose(weight, [1.0 - 0.05, -2.0 - 0.025])


def test_momentum_steps_by_hand():
    weight = np.array([1.0], np.float32)
    optimizer = SGD(momentum=0.9)
    optimizer.step([weight], [np.array([2.0], np.float32)], 0.1)  # v = -0.2, w = 0.8
    np.testing.assert_allclose(weight, [0.8])
    optimizer.step([weight], [np.array([1.0], np.float32)], 0.1)  # v = 0.9 * -0.2 - 0.1 = -0.28, w = 0.52
    np.testing.assert_allclose(weight, [0.52], rtol=1e-6)
    np.testing.assert_allclose(optimizer.velocities[0], [-0.28], rtol=1e-6)


def test_velocities_are_flushed_before_they_turn_subnormal(monkeypatch):
    monkeypatch.setattr(optimizers, "FLUSH_EVERY", 10)
    weight = np.zeros(3, np.float32)
    optimizer = SGD(momentum=0.5)
    optimizer.step([weight], [np.array([1e-18, 1.0, 0.0], np.float32)], 1.0)
    for _ in range(9):  # gradients stop; velocities halve every step
        optimizer.step([weight], [np.zeros(3, np.float32)], 1.0)
    assert optimizer.velocities[0][0] == 0  # 1e-18 / 2**9 < TINY: flushed at step 10
    assert optimizer.velocities[0][1] != 0  # 1 / 2**9 is left alone


def test_flush_tiny_values():
    array = np.array([1e-25, -1e-25, 1e-19, -3.0, 0.0, 1e-40], np.float32)
    flush_tiny_values(array)
    np.testing.assert_array_equal(array, np.array([0, 0, 1e-19, -3, 0, 0], np.float32))
    assert np.float32(1e-20) == TINY


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_reduces_a_quadratic(momentum):
    weight = np.array([5.0, -3.0], np.float32)
    optimizer = SGD(momentum)
    for _ in range(200):
        optimizer.step([weight], [2 * weight.copy()], 0.05)  # gradient of |w|^2
    assert np.abs(weight).max() < 1e-3
