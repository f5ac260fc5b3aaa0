"""Data augmentation keeps images valid and moves them exactly as promised."""

import numpy as np
import pytest

from augment import augment_images, random_shift

from conftest import read_real


def centre_of_mass(images):
    """(row, column) centre of mass of each 28x28 image, (N, 2)."""
    grids = images.reshape(-1, 28, 28)
    rows, columns = np.mgrid[0:28, 0:28]
    mass = grids.sum(axis=(1, 2))
    return np.stack([(grids * rows).sum(axis=(1, 2)) / mass, (grids * columns).sum(axis=(1, 2)) / mass], axis=1)


@pytest.fixture(scope="module")
def digits():
    """200 real test digits with no ink within 2 pixels of the border, so that a 2-pixel shift loses none."""
    images = read_real("test_images")[:400]
    inside = np.zeros((28, 28), bool)
    inside[2:-2, 2:-2] = True
    keep = ~images[:, ~inside].any(axis=1)
    return images[keep][:200].reshape(-1, 784).astype(np.float32) / 255


def test_shift_moves_the_centre_of_mass_by_the_drawn_offset(digits):
    class FixedOffsets:  # stands in for the random generator: every image moves 2 down, 1 left
        def integers(self, low, high, size):
            self.calls = getattr(self, "calls", 0) + 1
            return np.full(size, 2 if self.calls == 1 else -1)

    shifted = random_shift(digits, 2, FixedOffsets())
    np.testing.assert_allclose(centre_of_mass(shifted) - centre_of_mass(digits), [[2, -1]] * len(digits), atol=1e-4)


def test_shift_keeps_shape_dtype_range_and_ink(digits):
    shifted = augment_images(digits, "shift", np.random.default_rng(0), max_shift=2)
    assert shifted.shape == digits.shape and shifted.dtype == np.float32
    assert shifted.min() >= 0 and shifted.max() <= 1
    np.testing.assert_allclose(shifted.sum(axis=1), digits.sum(axis=1), rtol=1e-5)  # only moved, not lost
    assert not np.array_equal(shifted, digits)


def test_zero_shift_and_none_are_the_identity(digits):
    np.testing.assert_array_equal(random_shift(digits, 0, np.random.default_rng(0)), digits)
    assert augment_images(digits, "none", np.random.default_rng(0)) is digits


def test_same_seed_same_shifts(digits):
    first = augment_images(digits, "shift", np.random.default_rng(42), max_shift=1)
    second = augment_images(digits, "shift", np.random.default_rng(42), max_shift=1)
    third = augment_images(digits, "shift", np.random.default_rng(43), max_shift=1)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, third)


def test_unknown_method(digits):
    with pytest.raises(ValueError, match="unknown augmentation"):
        augment_images(digits, "twist", np.random.default_rng(0))
