"""Subnormal numbers: why training code sets very small values to exactly zero.

float32 stores numbers down to about 1.2e-38 with full precision. Below that, down to 1.4e-45, it has
"subnormal" (denormal) numbers with fewer significant bits. Many CPUs handle them in a slow path,
so a matrix full of them can make every operation on it many times slower.

Training produces them in two ways. A softmax that is very sure of itself gives the other classes
probabilities like exp(-100), far below 1.2e-38. And quantities that shrink by a constant factor every
step, such as a momentum velocity where the gradient is always 0 (pixels at the border of the image are
never lit), pass through the subnormal range on their way to 0.

The cure is to flush such values to zero. A value below TINY cannot change a weight anyway: adding
1e-20 to any float32 number larger than about 1e-13 leaves it unchanged, so flushing changes nothing
that matters.
"""

import numpy as np

TINY = np.float32(1e-20)


def flush_tiny_values(array):
    """Set the entries of `array` whose magnitude is below TINY to exactly zero, in place."""
    array[np.abs(array) < TINY] = 0
