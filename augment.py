"""Data augmentation: new variations of the training images, drawn afresh every epoch.

A digit moved one pixel to the left is still the same digit. Showing the network slightly moved
copies teaches it that, and it then generalises better to the test images. Only training images are
augmented; validation and test images are used as they are.
"""

import numpy as np

AUGMENTATIONS = ("none", "shift")


def random_shift(images, max_shift, rng, image_shape=(28, 28)):
    """Move every image by its own random whole-pixel offset of up to `max_shift` in each direction.

    images: (N, rows * columns). Pixels moved out of the frame are lost; those moved in are 0 (background).
    Rather than loop over images, we loop over the (2 * max_shift + 1) ** 2 possible offsets and move all
    images that drew the same offset in one slicing operation.
    """
    rows, columns = image_shape
    count = len(images)
    padded = np.zeros((count, rows + 2 * max_shift, columns + 2 * max_shift), dtype=images.dtype)
    padded[:, max_shift : max_shift + rows, max_shift : max_shift + columns] = images.reshape(count, rows, columns)
    offsets_down = rng.integers(-max_shift, max_shift + 1, size=count)  # (N,)
    offsets_right = rng.integers(-max_shift, max_shift + 1, size=count)  # (N,)
    shifted = np.empty((count, rows, columns), dtype=images.dtype)
    for down in range(-max_shift, max_shift + 1):
        for right in range(-max_shift, max_shift + 1):
            chosen = np.flatnonzero((offsets_down == down) & (offsets_right == right))
            # a window that starts `down` rows above the image shows the image `down` rows lower
            top, left = max_shift - down, max_shift - right
            shifted[chosen] = padded[chosen, top : top + rows, left : left + columns]
    return shifted.reshape(count, rows * columns)


def augment_images(images, method, rng, max_shift=1, image_shape=(28, 28)):
    """A fresh augmented copy of `images` by `method` ('none' returns the images themselves)."""
    if method == "none":
        return images
    if method == "shift":
        return random_shift(images, max_shift, rng, image_shape)
    raise ValueError(f"unknown augmentation '{method}'; choose one of {', '.join(AUGMENTATIONS)}")
