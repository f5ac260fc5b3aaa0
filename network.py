"""A fully connected neural network written out with NumPy: the forward pass and the backward pass.

The default network has one hidden layer: 784 pixels -> hidden ReLU units -> 10 class scores. For a
mini-batch of B images, the symbols of the equations are the names in the code:

    X       (B, 784)        the images, one per row, grey levels in [0, 1]
    W, b    (n_in, n_out), (n_out,)     a layer's weights and biases (W1, b1 for the first layer, ...)
    Z       (B, n_out)      a layer's pre-activation: what its units add up, Z = H @ W + b
    H       (B, n_out)      a hidden layer's activation, H = f(Z), f = relu by default; the first layer's input is X
    P       (B, 10)         the probabilities of the ten digits, softmax of the last layer's Z (the scores)
    y, Y    (B,), (B, 10)   the labels, and the same as one-hot rows (Y[i, y[i]] = 1)
    L                       the loss: the mean of -log(probability given to the true digit)
    dZ, dW, db, dH          the gradients of L with respect to Z, W, b and H, of the same shapes

    Forward                                       Backward (the chain rule, from the loss back)
    Z1 = X @ W1 + b1       hidden pre-activation  dZ2 = (P - Y) / B     (derived in softmax_cross_entropy)
    H  = f(Z1)             hidden activation      dW2 = H.T @ dZ2       db2 = dZ2 summed over the batch
    Z2 = H @ W2 + b2       scores ("logits")      dH  = dZ2 @ W2.T
    P  = softmax(Z2)       probabilities          dZ1 = dH * f'(Z1)     for relu: 1 where the unit fired, else 0
    L  = -mean(log P[i, y_i])  cross-entropy      dW1 = X.T @ dZ1       db1 = dZ1 summed over the batch

relu(z) = max(z, 0); softmax(z)_k = exp(z_k) / sum_j exp(z_j). With more hidden layers the first two lines
of each column repeat once per layer: `forward` and `backward` loop over the layers. What a training step
does with the gradients (weight decay, clipping, the update) is in `train_step` in train.py. Everything is
float32: half the memory traffic of float64, and precise enough.
"""

import math

import numpy as np
from numpy.random import default_rng

from optimizers import flush_tiny_values

# ----- activations: what a hidden unit does with its sum Z, and the slope f'(Z) the backward pass needs ------
# Each slope is written with the activation's own output H = f(Z), which the forward pass keeps anyway.


def relu(Z):
    """max(Z, 0), element by element: a unit passes a positive sum on and silences a negative one."""
    return np.maximum(Z, 0)


def relu_derivative(H):
    """f'(Z) of relu, read from H = relu(Z): 1 where the unit fired (H > 0), else 0."""
    return H > 0


def tanh(Z):
    """(e^Z - e^-Z) / (e^Z + e^-Z): squashes every sum into (-1, 1)."""
    return np.tanh(Z)


def tanh_derivative(H):
    """f'(Z) of tanh, read from H = tanh(Z): 1 - H^2. Near 0 when the unit is saturated at -1 or 1."""
    return 1 - H * H


def sigmoid(Z):
    """1 / (1 + e^-Z): squashes every sum into (0, 1). Computed as (1 + tanh(Z / 2)) / 2, the same function,
    which never overflows."""
    return 0.5 * (1 + np.tanh(0.5 * Z))


def sigmoid_derivative(H):
    """f'(Z) of the sigmoid, read from H = sigmoid(Z): H (1 - H), at most 1/4, so each layer shrinks the gradient."""
    return H * (1 - H)


ACTIVATIONS = {
    "relu": (relu, relu_derivative),
    "tanh": (tanh, tanh_derivative),
    "sigmoid": (sigmoid, sigmoid_derivative),
}

# ----- starting weights: random, with a standard deviation chosen so that the signal keeps its size ------------
# he (He et al., 2015): variance 2 / fan_in. ReLU zeroes about half of its inputs, halving the signal's variance
#     at every layer; doubling the usual 1 / fan_in makes up for it.
# xavier (Glorot and Bengio, 2010): variance 2 / (fan_in + fan_out), for tanh and sigmoid, which zero nothing.
# small: a standard deviation of 0.01 whatever the layer's size; deep networks then start with a vanishing signal.
INITIALIZATIONS = {
    "he": lambda fan_in, fan_out: math.sqrt(2.0 / fan_in),
    "xavier": lambda fan_in, fan_out: math.sqrt(2.0 / (fan_in + fan_out)),
    "small": lambda fan_in, fan_out: 0.01,
}


def initial_weights(fan_in, fan_out, init, rng):
    """A (fan_in, fan_out) float32 matrix of normal random numbers with the standard deviation of the rule `init`."""
    scale = np.float32(INITIALIZATIONS[init](fan_in, fan_out))
    return rng.standard_normal((fan_in, fan_out), dtype=np.float32) * scale


# ----- the output: softmax, and the cross-entropy loss with its gradient --------------------------------------


def log_softmax(Z):
    """log(softmax(Z)) per row, computed so that huge scores never overflow.

    Subtracting each row's largest score changes nothing mathematically (softmax is shift-invariant)
    but makes every exponent <= 0, so exp() lies in (0, 1] and never becomes inf.
    """
    shifted = Z - Z.max(axis=1, keepdims=True)  # (B, 10), each row's maximum is now 0
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))  # (B, 10) - (B, 1) -> (B, 10)


def softmax(Z):
    """The probabilities P: every row is positive and sums to 1."""
    return np.exp(log_softmax(Z))


def softmax_cross_entropy(Z, y):
    """The loss L of a batch, the mean of -log P[i, y_i], and its gradient with respect to the scores, (P - Y) / B.

    Why (P - Y) / B: for one image whose true digit is y, the loss is
        L_i = -log P_y = -log(exp(Z_y) / sum_j exp(Z_j)) = -Z_y + log(sum_j exp(Z_j)).
    Its slope with respect to a score Z_k: the first term gives -1 when k = y (that is, -Y_k), and the second
    gives exp(Z_k) / sum_j exp(Z_j), which is P_k. So dL_i/dZ_k = P_k - Y_k: the logarithm of the loss and
    the exponentials of the softmax cancel out. L is the mean over the B images, hence the / B.
    """
    rows = np.arange(len(y))
    log_P = log_softmax(Z)  # (B, 10)
    L = float(-log_P[rows, y].mean())
    P = np.exp(log_P)  # (B, 10)
    dZ = P  # the same array, turned into the gradient in place (nothing else holds P):
    dZ[rows, y] -= 1  # P - Y, without building the one-hot Y
    dZ /= len(y)  # (P - Y) / B
    flush_tiny_values(dZ)  # for speed, not for the math: see "Subnormal numbers" at the end of optimizers.py
    return L, dZ


def dropout_mask(shape, rate, rng):
    """Inverted dropout: each unit is kept with probability 1 - rate, and kept units are scaled by 1 / (1 - rate).

    Switching off a random share of the hidden units at every step keeps units from relying on each other
    (Srivastava et al., 2014). The scaling keeps each unit's expected output unchanged, so at evaluation
    time, when nothing is dropped, the network needs no correction.
    """
    keep = rng.random(shape, dtype=np.float32) >= rate  # (B, n_hidden): True for the units that stay on
    return keep * np.float32(1 / (1 - rate))


class Network:
    """Input -> hidden layers -> output scores (softmax), trained by mini-batch gradient descent.

    `layer_sizes` lists the width of every layer, input first and output last: [784, 128, 10] is one
    hidden layer of 128 units. Layer l has weights W of shape (inputs, outputs) and biases b. `activation`
    names the hidden units' f (relu, tanh or sigmoid) and `init` the rule of the starting weights.

    Every model here (this one, and ConvNetwork in conv_network.py, which builds on it) offers:
        forward(X, dropout, rng) -> (Z, cache)       the scores, and what the backward pass needs
        backward(cache, dZ) -> (gradients, dX)       the gradients, in the order of parameters()
        parameters()                                 [W1, b1, W2, b2, ...], which the optimizer updates
    and the evaluation methods below them, which only call forward.
    """

    def __init__(self, layer_sizes, seed=0, image_shape=None, activation="relu", init="he"):
        """image_shape: (rows, columns) of the input images, for figures; by default square if it can be."""
        self.layer_sizes = [int(size) for size in layer_sizes]
        if len(self.layer_sizes) < 2 or min(self.layer_sizes) < 1:
            raise ValueError(f"layer sizes must be at least two positive numbers, got {layer_sizes}")
        if activation not in ACTIVATIONS or init not in INITIALIZATIONS:
            raise ValueError(f"unknown activation '{activation}' or initialization '{init}'")
        side = math.isqrt(self.layer_sizes[0])
        default_shape = (side, side) if side * side == self.layer_sizes[0] else (1, self.layer_sizes[0])
        self.image_shape = tuple(int(length) for length in image_shape) if image_shape else default_shape
        if math.prod(self.image_shape) != self.layer_sizes[0]:
            raise ValueError(f"images of {self.image_shape} pixels do not fit an input layer of {self.layer_sizes[0]}")
        self.num_classes = self.layer_sizes[-1]
        self.activation, self.init = activation, init
        self.seed = seed  # recorded with the model, so that figures can rebuild its starting weights
        rng = default_rng(seed)
        self.weights = [
            initial_weights(fan_in, fan_out, init, rng)
            for fan_in, fan_out in zip(self.layer_sizes[:-1], self.layer_sizes[1:])
        ]
        self.biases = [np.zeros(fan_out, dtype=np.float32) for fan_out in self.layer_sizes[1:]]

    def parameters(self):
        """All trainable arrays in a fixed order [W1, b1, W2, b2, ...]; the optimizer updates them in place."""
        return [array for W, b in zip(self.weights, self.biases) for array in (W, b)]

    def forward(self, X, dropout=0.0, rng=None):
        """The scores Z of the last layer, (B, 10), and a cache of what the backward pass needs.

        X: (B, 784) float32. The cache holds, for every layer l, what it read: inputs[l] (X for the first
        layer), and where that input came from a hidden layer, that layer's activation H before dropout,
        activations[l], and its dropout mask, masks[l]; None where there is none.
        """
        f = ACTIVATIONS[self.activation][0]
        inputs, activations, masks = [X], [None], [None]
        for W, b in zip(self.weights[:-1], self.biases[:-1]):
            Z = inputs[-1] @ W  # (B, n_in) @ (n_in, n_out) -> (B, n_out)
            Z += b  # (B, n_out) + (n_out,): every row gets the bias ("+=" adds in place, without a copy)
            H = f(Z)  # (B, n_out)
            mask = dropout_mask(H.shape, dropout, rng) if dropout > 0 else None  # (B, n_out) of 0 and 1 / (1 - rate)
            inputs.append(H if mask is None else H * mask)  # the next layer reads only the units kept on
            activations.append(H)
            masks.append(mask)
        Z = inputs[-1] @ self.weights[-1]  # (B, n_hidden) @ (n_hidden, 10) -> (B, 10): the scores
        Z += self.biases[-1]  # (B, 10) + (10,)
        return Z, {"inputs": inputs, "activations": activations, "masks": masks}

    def backward(self, cache, dZ, input_gradient=False):
        """The gradients [dW1, db1, dW2, db2, ...] of the loss, given dZ = (P - Y) / B of the last layer; and, with
        input_gradient, dX, the gradient of the input (for the convolution layers in front of a ConvNetwork).

        From the last layer to the first, layer l turns the dZ of its output into dW and db. Then it hands the
        gradient of its input, dH = dZ @ W.T, down to the hidden layer that made that input: back through the
        dropout mask (a dropped unit passed nothing on) and the activation (times f'(Z)) it becomes that
        layer's dZ. The first layer's input X needs no gradient, unless asked for.
        """
        f_derivative = ACTIVATIONS[self.activation][1]
        inputs, activations, masks = cache["inputs"], cache["activations"], cache["masks"]
        dW, db = [None] * len(self.weights), [None] * len(self.weights)
        for layer in reversed(range(len(self.weights))):  # the last layer first
            dW[layer] = inputs[layer].T @ dZ  # (n_in, B) @ (B, n_out) -> (n_in, n_out)
            db[layer] = dZ.sum(axis=0)  # (B, n_out) -> (n_out,)
            if layer == 0:
                break  # X is not a hidden layer: nothing below it to pass a gradient to
            dH = dZ @ self.weights[layer].T  # (B, n_out) @ (n_out, n_in) -> (B, n_in): the gradient of inputs[layer]
            if masks[layer] is not None:
                dH = dH * masks[layer]  # (B, n_in): a dropped unit passed nothing on, so it gets no gradient
            dZ = dH * f_derivative(activations[layer])  # (B, n_in): dZ = dH * f'(Z), the hidden layer's dZ
        dX = dZ @ self.weights[0].T if input_gradient else None  # (B, n_out) @ (n_out, 784) -> (B, 784)
        gradients = [array for pair in zip(dW, db) for array in pair]  # [dW1, db1, dW2, db2, ...]
        return gradients, dX

    def dense_cache(self, cache):
        """The part of a forward pass's cache that belongs to the fully connected layers: here, all of it."""
        return cache

    def hidden_activations(self, X):
        """The activation H of every hidden layer for the images X: a list of (N, n_hidden) arrays (no dropout)."""
        return self.dense_cache(self.forward(X)[1])["activations"][1:]

    def votes(self, x):
        """What each unit of the last hidden layer adds to every digit's score for one image x: (n_hidden, 10).

        The last layer computes Z = H @ W + b, so the score of digit k is b[k] + sum over units j of H[j] W[j, k]:
        unit j votes H[j] W[j, k] for digit k (against it when negative), and the votes and b[k] add up to Z[k].
        (Without a hidden layer, H is the image itself and the units are its pixels.)
        """
        H = self.dense_cache(self.forward(x.reshape(1, -1))[1])["inputs"][-1][0]  # (n_hidden,): the last layer's input
        return H[:, None] * self.weights[-1]  # (n_hidden, 1) * (n_hidden, 10) -> (n_hidden, 10)

    evaluation_chunk = 2000  # images per forward pass when evaluating: bounds the memory evaluation takes

    def log_probabilities(self, X, chunk_size=None):
        """log P, (N, 10), computed a chunk of images at a time to bound memory."""
        chunk_size = chunk_size or self.evaluation_chunk
        chunks = [
            log_softmax(self.forward(X[start : start + chunk_size])[0])  # (chunk, 10)
            for start in range(0, len(X), chunk_size)
        ]
        return np.concatenate(chunks) if chunks else np.zeros((0, self.num_classes), np.float32)

    def predict_probabilities(self, X):
        """The probabilities P, (N, 10): row i says how likely image i is each digit."""
        return np.exp(self.log_probabilities(X))

    def predict(self, X):
        """The most probable digit of every image, (N,)."""
        return self.log_probabilities(X).argmax(axis=1)

    def evaluate(self, X, y):
        """Mean cross-entropy loss and accuracy (fraction correct) on a whole data set."""
        log_P = self.log_probabilities(X)  # (N, 10)
        loss = float(-log_P[np.arange(len(y)), y].mean())
        accuracy = float(np.mean(log_P.argmax(axis=1) == y))
        return loss, accuracy
