"""A small convolutional network written out with NumPy: convolution by im2col, max-pooling, and both backward.

The architecture is LeNet-like. Shapes for a mini-batch of B images, channels last (C1, C2 filters, H units):

    input                          (B, 28, 28, 1)
    convolution 5x5, ReLU          (B, 24, 24, C1)   each output pixel weighs a 5x5 patch of the input
    max-pool 2x2                   (B, 12, 12, C1)   keep the strongest response in every 2x2 block
    convolution 5x5, ReLU          (B, 8, 8, C2)     now each patch is 5x5 pixels x C1 channels
    max-pool 2x2                   (B, 4, 4, C2)
    flatten                        (B, 16 * C2)
    fully connected, ReLU          (B, H)            these last layers are those of network.Network,
    fully connected, softmax       (B, 10)           which ConvNetwork builds on

A filter is a small weight pattern slid over the image: at every position, the output is the dot product of
the filter with the patch under it, plus a bias. A fully connected layer would learn separate weights for
every position; a filter shares one set of weights across all of them, so a stroke is recognised wherever
it appears, with 25 * C1 weights instead of 784 * hidden.

Convolution by im2col ("image to columns"): copy every 5x5 patch of every image into one row of a matrix,
then all filters at all positions are one matrix product, the fastest thing NumPy does:

    patches (B * 24 * 24, 5 * 5 * 1) @ filters (5 * 5 * 1, C1) -> (B * 24 * 24, C1) -> reshape (B, 24, 24, C1)

The first layer's filters start at a quarter of He's scale (FIRST_FILTERS_SCALE). He's rule keeps the signal's size
through many ReLU layers; for the first layer, whose inputs are pixels in [0, 1], the scale only sets the size of
everything after it. And the gradient a filter receives does not depend on the filter's own size: from He's
start, training changed the first filters by a fraction of their random values, which then hid what they had
learned. Started four times smaller, they move by more than their starting size, into visible edge detectors.

The backward pass is the same product read backwards, with the names of network.py: the filters' gradient is
dW = patches.T @ dZ, and the patches' gradient dZ @ W.T, whose rows are added back onto the pixels they were
copied from (col2im).
"""

import numpy as np

from network import ACTIVATIONS, Network, initial_weights

FIRST_FILTERS_SCALE = 0.25  # the first layer's filters start at this share of He's scale: see above


def im2col(images, kernel_size):
    """Every kernel_size x kernel_size patch of every image, one patch per row.

    images: (B, H, W, C). Returns (B * OH * OW, K * K * C), with OH = H - K + 1 and OW = W - K + 1: the row
    for (b, i, j) holds the patch of image b whose top-left corner is pixel (i, j), in (row, column, channel)
    order.
    """
    channels = images.shape[3]
    windows = np.lib.stride_tricks.sliding_window_view(images, (kernel_size, kernel_size), axis=(1, 2))
    windows = windows.transpose(0, 1, 2, 4, 5, 3)  # a view: (B, OH, OW, C, K, K) -> (B, OH, OW, K, K, C)
    return windows.reshape(-1, kernel_size * kernel_size * channels)  # the one copy: (B * OH * OW, K * K * C)


def col2im(patch_gradients, image_shape, kernel_size):
    """The way back of im2col: add every patch's gradient onto the pixels the patch was copied from.

    A pixel that sat in several overlapping patches collects the sum of their gradients.
    patch_gradients: (B * OH * OW, K * K * C). Returns (B, H, W, C).
    """
    batch, height, width, channels = image_shape
    out_height, out_width = height - kernel_size + 1, width - kernel_size + 1
    patches = patch_gradients.reshape(batch, out_height, out_width, kernel_size, kernel_size, channels)
    images = np.zeros(image_shape, dtype=patch_gradients.dtype)
    for row in range(kernel_size):  # one slice addition per position in the kernel: 25 for 5x5
        for column in range(kernel_size):
            images[:, row : row + out_height, column : column + out_width, :] += patches[:, :, :, row, column, :]
    return images


def max_pool(images):
    """2x2 max-pooling: (B, H, W, C) -> (B, H/2, W/2, C), and which corner won every block.

    winners holds 0-3 for the block's top-left, top-right, bottom-left or bottom-right value. It is found by
    a small tournament: the best of each row of the block, then the better of the two; comparing with a
    strict '>' makes the first of equal values win.
    """
    top_left, top_right = images[:, 0::2, 0::2, :], images[:, 0::2, 1::2, :]  # views, (B, H/2, W/2, C) each
    bottom_left, bottom_right = images[:, 1::2, 0::2, :], images[:, 1::2, 1::2, :]
    top = np.maximum(top_left, top_right)  # (B, H/2, W/2, C): the best of the block's top row
    top_winner = (top_right > top_left).astype(np.int8)  # 0 (top-left) or 1 (top-right)
    bottom = np.maximum(bottom_left, bottom_right)  # the best of the bottom row
    bottom_winner = 2 + (bottom_right > bottom_left).astype(np.int8)  # 2 (bottom-left) or 3 (bottom-right)
    winners = np.where(bottom > top, bottom_winner, top_winner)  # (B, H/2, W/2, C) of 0-3
    return np.maximum(top, bottom), winners


def max_pool_backward(pooled_gradient, winners, image_shape):
    """The gradient of each block goes to the value that won it; the three others get 0."""
    batch, height, width, channels = image_shape
    blocks = np.zeros((batch, height // 2, width // 2, 4, channels), dtype=pooled_gradient.dtype)
    np.put_along_axis(blocks, winners[:, :, :, None, :], pooled_gradient[:, :, :, None, :], axis=3)
    # (B, H/2, W/2, [row, column], C) -> (B, H/2, row, W/2, column, C) = (B, H, W, C)
    blocks = blocks.reshape(batch, height // 2, width // 2, 2, 2, channels).transpose(0, 1, 3, 2, 4, 5)
    return blocks.reshape(image_shape)


def feature_map_size(image_shape, conv_channels, kernel_size):
    """(height, width) of the maps the last pooling gives; a ValueError when the layers do not fit the image."""
    height, width = image_shape
    for _ in conv_channels:  # each stage: a convolution without padding, then halving by the pooling
        height, width = height - kernel_size + 1, width - kernel_size + 1
        if height < 2 or width < 2 or height % 2 or width % 2:
            raise ValueError(
                f"{kernel_size}x{kernel_size} convolutions of a {tuple(image_shape)} image give "
                f"{height}x{width} maps, which 2x2 pooling cannot halve"
            )
        height, width = height // 2, width // 2
    return height, width


class ConvNetwork(Network):
    """Convolution, ReLU and max-pooling layers in front of the fully connected layers of a network.Network.

    The fully connected layers are this object's own `weights` and `biases`, as in a Network; the filters
    are `conv_weights` and `conv_biases`. parameters() lists the filters first, then the fully connected layers.
    """

    def __init__(self, conv_channels=(32, 64), hidden_sizes=(256,), kernel_size=5, seed=0, image_shape=(28, 28),
                 activation="relu", init="he"):  # fmt: skip
        self.conv_channels = [int(channels) for channels in conv_channels]
        self.hidden_sizes = [int(size) for size in hidden_sizes]
        self.kernel_size, image_shape = int(kernel_size), tuple(int(side) for side in image_shape)
        if not self.conv_channels:
            raise ValueError("a convolutional network needs at least one layer of filters")
        if min(self.conv_channels + self.hidden_sizes) < 1 or self.kernel_size < 1:
            raise ValueError("every layer needs at least one filter or unit, and filters at least one pixel")
        height, width = feature_map_size(image_shape, self.conv_channels, self.kernel_size)
        conv_seed, dense_seed = np.random.SeedSequence(seed).spawn(2)  # independent random streams
        features = height * width * self.conv_channels[-1]
        super().__init__([features, *self.hidden_sizes, 10], seed=dense_seed, activation=activation, init=init)
        self.image_shape, self.seed = image_shape, seed
        rng = np.random.default_rng(conv_seed)
        inputs = [1, *self.conv_channels[:-1]]  # channels entering each convolution
        patch_size = self.kernel_size * self.kernel_size
        self.conv_weights = [initial_weights(patch_size * channels_in, channels_out, init, rng)
                             for channels_in, channels_out in zip(inputs, self.conv_channels)]  # fmt: skip
        self.conv_weights[0] *= np.float32(FIRST_FILTERS_SCALE)
        self.conv_biases = [np.zeros(channels, dtype=np.float32) for channels in self.conv_channels]

    def parameters(self):
        """[filters 1, their biases, filters 2, ..., then W1, b1, W2, b2, ... of the fully connected layers]."""
        filters = [array for W, b in zip(self.conv_weights, self.conv_biases) for array in (W, b)]
        return filters + super().parameters()

    def forward(self, X, dropout=0.0, rng=None):
        """Scores Z (B, 10) and a cache for the backward pass. X: (B, 784). Dropout acts on the dense layers."""
        H = X.reshape(len(X), *self.image_shape, 1)  # (B, 28, 28, 1)
        stages = []
        for W, b in zip(self.conv_weights, self.conv_biases):
            batch, height, width, channels = H.shape
            out_height, out_width = height - self.kernel_size + 1, width - self.kernel_size + 1
            patches = im2col(H, self.kernel_size)  # (B * OH * OW, K * K * C_in)
            Z = patches @ W  # (B * OH * OW, K * K * C_in) @ (K * K * C_in, C_out) -> (B * OH * OW, C_out)
            Z += b  # (B * OH * OW, C_out) + (C_out,)
            rectified = ACTIVATIONS[self.activation][0](Z).reshape(
                batch, out_height, out_width, -1
            )  # (B, OH, OW, C_out)
            H, winners = max_pool(rectified)  # (B, OH / 2, OW / 2, C_out)
            stages.append({"input_shape": (batch, height, width, channels), "patches": patches,
                           "rectified": rectified, "winners": winners})  # fmt: skip
        features = H.reshape(len(H), -1)  # (B, 4 * 4 * C2)
        Z, dense_cache = super().forward(features, dropout, rng)  # (B, 10)
        return Z, {"stages": stages, "dense": dense_cache, "features_shape": H.shape}

    def backward(self, cache, dZ, input_gradient=False):
        """The gradients in the order of parameters(), and None (the images need no gradient).

        The fully connected layers come first (Network.backward), then the gradient is carried on into the
        features, back through each pooling, ReLU and convolution.
        """
        dense_gradients, dFeatures = super().backward(cache["dense"], dZ, input_gradient=True)  # (B, 4 * 4 * C2)
        dH = dFeatures.reshape(cache["features_shape"])  # (B, 4, 4, C2)
        gradients = []
        for layer in reversed(range(len(self.conv_weights))):
            stage = cache["stages"][layer]
            dH = max_pool_backward(dH, stage["winners"], stage["rectified"].shape)  # (B, OH, OW, C_out)
            dH *= ACTIVATIONS[self.activation][1](stage["rectified"])  # times f'(Z), in place: dH becomes dZ
            dZ = dH.reshape(-1, dH.shape[3])  # (B * OH * OW, C_out)
            dW = stage["patches"].T @ dZ  # (K*K*C_in, B*OH*OW) @ (B*OH*OW, C_out) -> (K*K*C_in, C_out)
            db = dZ.sum(axis=0)  # (B * OH * OW, C_out) -> (C_out,)
            gradients = [dW, db, *gradients]
            if layer > 0:  # the input pixels need no gradient
                dPatches = dZ @ self.conv_weights[layer].T  # (B*OH*OW, C_out) @ (C_out, K*K*C_in)
                dH = col2im(dPatches, stage["input_shape"], self.kernel_size)  # (B, H, W, C_in)
        return gradients + dense_gradients, None

    def dense_cache(self, cache):
        """The part of a forward pass's cache that belongs to the fully connected layers."""
        return cache["dense"]

    def feature_maps(self, image):
        """The rectified responses of every convolution to one image (784,): a list of (OH, OW, C) arrays."""
        _, cache = self.forward(image.reshape(1, -1))
        return [stage["rectified"][0] for stage in cache["stages"]]
