"""A fully connected neural network written out with NumPy: forward pass, backward pass, update, save and load.

The default architecture has one hidden layer: 784 pixels -> hidden ReLU units -> 10 class scores.
For a mini-batch of B images X (one image per row, shape (B, 784)) and their labels y:

    Forward                                       Backward (the chain rule, from the loss back)
    Z1 = X @ W1 + b1       hidden pre-activation  dZ2 = (P - Y) / B     Y = one-hot labels
    H  = relu(Z1)          hidden activation      dW2 = H.T @ dZ2       db2 = dZ2 summed over the batch
    Z2 = H @ W2 + b2       scores ("logits")      dH  = dZ2 @ W2.T
    P  = softmax(Z2)       probabilities          dZ1 = dH * (Z1 > 0)   ReLU lets gradient through where active
    L  = -mean(log P[i, y_i])  cross-entropy      dW1 = X.T @ dZ1       db1 = dZ1 summed over the batch

relu(z) = max(z, 0); softmax(z)_k = exp(z_k) / sum_j exp(z_j). The neat (P - Y) / B is the gradient of the
cross-entropy of a softmax with respect to its logits: the two exponentials and logarithms cancel.
With more hidden layers the same two lines repeat once per layer; `forward` and `backward` loop over them.

Everything is float32: it halves the memory traffic of float64 and is plenty precise for training.
"""

import math
import zipfile

import numpy as np

from atomic import write_atomically
from data_loader import PIXEL_MAX
from subnormals import flush_tiny_values

FORMAT_VERSION = 1  # bump when the layout of saved files changes


class ModelFileError(Exception):
    """A weights file is missing, unreadable or does not describe a valid network. The message names it."""


def relu(z):
    """max(z, 0), element by element."""
    return np.maximum(z, 0)


def log_softmax(logits):
    """log(softmax(logits)) per row, computed so that huge logits never overflow.

    Subtracting each row's largest logit changes nothing mathematically (softmax is shift-invariant)
    but makes every exponent <= 0, so exp() lies in (0, 1] and never becomes inf.
    """
    shifted = logits - logits.max(axis=1, keepdims=True)  # (B, 10), each row's maximum is now 0
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))  # (B, 10) - (B, 1) -> (B, 10)


def softmax(logits):
    """Class probabilities: every row is positive and sums to 1."""
    return np.exp(log_softmax(logits))


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy loss of a batch, and its gradient with respect to the logits, (P - Y) / B.

    The loss is the mean over the batch of -log(probability given to the true class). With the logits
    shifted as in log_softmax, that is log(sum_j exp(z_j)) - z_label for every image.
    """
    rows = np.arange(len(labels))
    shifted = logits - logits.max(axis=1, keepdims=True)  # (B, 10), each row's maximum is now 0
    exponentials = np.exp(shifted)  # (B, 10), all in (0, 1]
    flush_tiny_values(exponentials)  # exp(-100) and the like would be slow subnormal numbers
    sums = exponentials.sum(axis=1, keepdims=True)  # (B, 1), each at least 1
    loss = float(np.mean(np.log(sums[:, 0]) - shifted[rows, labels]))
    logits_gradient = exponentials / sums  # P: (B, 10) / (B, 1) -> (B, 10)
    logits_gradient[rows, labels] -= 1  # P - Y, without building the one-hot Y
    logits_gradient /= len(labels)  # (P - Y) / B
    return loss, logits_gradient


def dropout_mask(shape, rate, rng):
    """Inverted dropout: each unit is kept with probability 1 - rate, and kept units are scaled by 1 / (1 - rate).

    Switching off a random share of the hidden units at every step keeps units from relying on each other
    (Srivastava et al., 2014). The scaling keeps each unit's expected output unchanged, so at evaluation
    time, when nothing is dropped, the network needs no correction.
    """
    keep = rng.random(shape, dtype=np.float32) >= rate  # (B, H) True for the units that stay on
    return keep * np.float32(1 / (1 - rate))


def he_initialization(fan_in, fan_out, rng):
    """Random weights with variance 2 / fan_in (He et al., 2015).

    ReLU zeroes about half of its inputs, halving the signal's variance at every layer; doubling the
    usual 1 / fan_in variance makes up for it, so activations neither vanish nor explode at the start.
    """
    scale = np.float32(math.sqrt(2.0 / fan_in))
    return rng.standard_normal((fan_in, fan_out), dtype=np.float32) * scale


def clip_by_global_norm(gradients, max_norm):
    """Scale all gradients down together when their joint length exceeds `max_norm` (0 disables clipping).

    The global norm is sqrt(sum of every squared gradient entry). Scaling keeps the direction of the
    step and only shortens it, so one freak mini-batch cannot throw the weights far away.
    Returns the norm before clipping.
    """
    norm = math.sqrt(sum(float(np.vdot(gradient, gradient)) for gradient in gradients))
    if max_norm > 0 and norm > max_norm:
        scale = np.float32(max_norm / norm)
        for gradient in gradients:
            gradient *= scale
    return norm


class Model:
    """What every model here shares: training steps, evaluation, and saving, given forward and backward.

    A model has lists `weights` and `biases` (its parameters), `image_shape` and `num_classes`, and
    implements forward(images, dropout, rng) -> (logits, cache) and backward(cache, logits_gradient) ->
    gradients in the order of parameters(). Network (below) and ConvNetwork (conv_network.py) are models.
    """

    model_type = None  # saved in the weights file, so that loading knows which class to build

    def parameters(self):
        """All trainable arrays in a fixed order [W1, b1, W2, b2, ...]; optimizers update them in place."""
        return interleave(self.weights, self.biases)

    def loss_and_gradients(self, images, labels, l2=0.0, dropout=0.0, rng=None):
        """Cross-entropy loss of one mini-batch, the gradient for every parameter, and the logits.

        With l2 > 0 the gradients are those of cross-entropy + (l2 / 2) * (sum of every squared weight): the
        penalty adds l2 * W to each weight's gradient, pulling every weight towards 0 ("weight decay").
        Biases are not penalised. The loss returned is the cross-entropy alone, comparable with and without l2.
        """
        logits, cache = self.forward(images, dropout, rng)  # (B, 10)
        loss, logits_gradient = softmax_cross_entropy(logits, labels)  # (B, 10)
        gradients = self.backward(cache, logits_gradient)
        if l2 > 0:
            for weight, weight_gradient in zip(self.weights, gradients[0::2]):
                weight_gradient += np.float32(l2) * weight  # dW += l2 * W
        return loss, gradients, logits

    def train_step(self, images, labels, optimizer, learning_rate, clip_norm=0.0, l2=0.0, dropout=0.0, rng=None):
        """One step of mini-batch gradient descent: forward, backward, clip, update.

        Returns the batch's loss and how many of its images the network classified correctly
        (before the update), which train.py averages into the epoch's training loss and accuracy.
        """
        loss, gradients, logits = self.loss_and_gradients(images, labels, l2, dropout, rng)
        if clip_norm > 0:
            clip_by_global_norm(gradients, clip_norm)
        optimizer.step(self.parameters(), gradients, learning_rate)
        return loss, int(np.count_nonzero(logits.argmax(axis=1) == labels))

    def log_probabilities(self, images, chunk_size=2000):
        """log softmax of the scores, (N, 10), computed a chunk of images at a time to bound memory."""
        chunks = [
            log_softmax(self.forward(images[start : start + chunk_size])[0])  # (chunk, 10)
            for start in range(0, len(images), chunk_size)
        ]
        return np.concatenate(chunks) if chunks else np.zeros((0, self.num_classes), np.float32)

    def predict_probabilities(self, images):
        """Softmax probabilities (N, 10): row i says how likely image i is each digit."""
        return np.exp(self.log_probabilities(images))

    def predict(self, images):
        """The most probable class of every image, (N,)."""
        return self.log_probabilities(images).argmax(axis=1)

    def evaluate(self, images, labels):
        """Mean cross-entropy loss and accuracy (fraction correct) on a whole data set."""
        log_probabilities = self.log_probabilities(images)  # (N, 10)
        loss = float(-log_probabilities[np.arange(len(labels)), labels].mean())
        accuracy = float(np.mean(log_probabilities.argmax(axis=1) == labels))
        return loss, accuracy

    # ----- saving and loading -----------------------------------------------------------------------------

    def save(self, path):
        """Write the model type, its architecture, the input normalisation and all parameters, atomically."""
        arrays = {
            "format_version": np.array(FORMAT_VERSION),
            "model_type": np.array(self.model_type),
            "image_shape": np.array(self.image_shape),
            "pixel_max": np.array(PIXEL_MAX, dtype=np.float32),  # inputs are grey levels / pixel_max, in [0, 1]
            **{name: np.array(value) for name, value in self.architecture().items()},
        }
        for index, (weight, bias) in enumerate(zip(self.weights, self.biases), start=1):
            arrays[f"W{index}"], arrays[f"b{index}"] = weight, bias
        save_npz_atomically(path, arrays)

    @classmethod
    def load(cls, path):
        """Rebuild a model saved by `save`, checking every array. Never unpickles anything."""
        return cls.from_arrays(load_npz(path), path)

    @classmethod
    def from_arrays(cls, arrays, path):
        """The model described by the arrays of a weights file (read from `path`, named in errors)."""
        if str(arrays["model_type"]) != cls.model_type:
            raise ModelFileError(f"'{path}' holds a '{arrays['model_type']}' model, not a '{cls.model_type}' one")
        try:
            model = cls.from_architecture(arrays)
        except (KeyError, ValueError, TypeError) as error:
            raise ModelFileError(f"'{path}' does not describe a valid {cls.model_type} model: {error}") from None
        for index, (weight, bias) in enumerate(zip(model.weights, model.biases), start=1):
            weight[...] = checked_array(arrays, f"W{index}", weight.shape, path)
            bias[...] = checked_array(arrays, f"b{index}", bias.shape, path)
        return model


class Network(Model):
    """Input -> hidden layers (ReLU) -> output scores (softmax), trained by mini-batch gradient descent.

    `layer_sizes` lists the width of every layer, input first and output last: [784, 128, 10] is one
    hidden layer of 128 units. Layer l has weights W[l] of shape (inputs, outputs) and biases b[l].
    """

    model_type = "mlp"

    def __init__(self, layer_sizes, seed=0, image_shape=None):
        """image_shape: (rows, columns) of the input images, for figures; by default square if it can be."""
        self.layer_sizes = [int(size) for size in layer_sizes]
        if len(self.layer_sizes) < 2 or min(self.layer_sizes) < 1:
            raise ValueError(f"layer sizes must be at least two positive numbers, got {layer_sizes}")
        side = math.isqrt(self.layer_sizes[0])
        default_shape = (side, side) if side * side == self.layer_sizes[0] else (1, self.layer_sizes[0])
        self.image_shape = tuple(int(length) for length in image_shape) if image_shape else default_shape
        if math.prod(self.image_shape) != self.layer_sizes[0]:
            raise ValueError(f"images of {self.image_shape} pixels do not fit an input layer of {self.layer_sizes[0]}")
        self.num_classes = self.layer_sizes[-1]
        rng = np.random.default_rng(seed)
        self.weights = [
            he_initialization(fan_in, fan_out, rng)
            for fan_in, fan_out in zip(self.layer_sizes[:-1], self.layer_sizes[1:])
        ]
        self.biases = [np.zeros(fan_out, dtype=np.float32) for fan_out in self.layer_sizes[1:]]

    def forward(self, images, dropout=0.0, rng=None):
        """Scores for each class, plus what the backward pass needs to know about this forward pass.

        images: (B, 784) float32. Returns the logits (B, 10) and a cache holding the input each layer
        saw [X, H1, ...] and the dropout masks applied to the hidden layers (none when dropout is 0).
        """
        layer_inputs, dropout_masks = [], []
        activation = images  # (B, 784)
        for weight, bias in zip(self.weights[:-1], self.biases[:-1]):
            layer_inputs.append(activation)
            pre_activation = activation @ weight  # (B, n_in) @ (n_in, H) -> (B, H)
            pre_activation += bias  # (B, H) + (H,): every row gets the bias; "+=" adds in place, no copy
            activation = relu(pre_activation)  # (B, H)
            if dropout > 0:
                mask = dropout_mask(activation.shape, dropout, rng)  # (B, H) of 0 and 1 / (1 - dropout)
                activation *= mask
                dropout_masks.append(mask)
        layer_inputs.append(activation)
        logits = activation @ self.weights[-1]  # (B, H) @ (H, 10) -> (B, 10)
        logits += self.biases[-1]  # (B, 10) + (10,)
        return logits, {"layer_inputs": layer_inputs, "dropout_masks": dropout_masks}

    def backward(self, cache, logits_gradient):
        """Gradients of the loss for every parameter, in the order of `parameters()`."""
        gradients, _ = self.backward_layers(cache, logits_gradient, to_input=False)
        return gradients

    def backward_to_input(self, cache, logits_gradient):
        """The gradients of `backward`, and also dLoss/dinput, (B, n_in), for a network feeding this one."""
        return self.backward_layers(cache, logits_gradient, to_input=True)

    def backward_layers(self, cache, logits_gradient, to_input):
        """The backward pass: (gradients for every parameter, dLoss/dinput if to_input else None).

        Walks the layers from the output back to the input. `delta` is dLoss/dZ of the current layer:
        it starts as (P - Y) / B and is carried one layer down by multiplying with that layer's W.T,
        then through the dropout mask (if any) and the ReLU derivative (1 where the unit was active, else 0).
        The input pixels need no gradient, so the last multiplication is skipped unless to_input is True.
        """
        layer_inputs, dropout_masks = cache["layer_inputs"], cache["dropout_masks"]
        weight_gradients, bias_gradients = [], []
        delta = logits_gradient  # (B, 10)
        for layer in reversed(range(len(self.weights))):
            layer_input = layer_inputs[layer]  # (B, n_in)
            weight_gradients.insert(0, layer_input.T @ delta)  # (n_in, B) @ (B, n_out) -> (n_in, n_out)
            bias_gradients.insert(0, delta.sum(axis=0))  # (B, n_out) -> (n_out,)
            if layer == 0 and not to_input:
                break
            delta = delta @ self.weights[layer].T  # (B, n_out) @ (n_out, n_in) -> (B, n_in)
            if layer > 0:
                if dropout_masks:
                    delta *= dropout_masks[layer - 1]  # dropped units passed nothing on, so get no gradient
                delta *= layer_input > 0  # ReLU derivative: H > 0 exactly where Z > 0
        return interleave(weight_gradients, bias_gradients), delta if to_input else None

    def architecture(self):
        return {"layer_sizes": self.layer_sizes}

    @classmethod
    def from_architecture(cls, arrays):
        layer_sizes = [int(size) for size in np.ravel(arrays["layer_sizes"])]
        return cls(layer_sizes, image_shape=[int(side) for side in np.ravel(arrays["image_shape"])])


def interleave(weights, biases):
    """[W1, b1, W2, b2, ...] from [W1, W2, ...] and [b1, b2, ...]."""
    return [array for pair in zip(weights, biases) for array in pair]


def save_npz_atomically(path, arrays):
    """Save `arrays` to the .npz file `path`; an interrupted save leaves the old file intact (atomic.py)."""
    write_atomically(path, lambda file: np.savez(file, **arrays))


def load_npz(path, required=("format_version", "model_type", "image_shape")):
    """Read every array of a .npz file into memory, refusing pickled objects and missing `required` names."""
    try:
        content = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ModelFileError(f"weights file '{path}' does not exist; train one with: python train.py") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise ModelFileError(f"'{path}' is not a readable weights file ({error})") from None
    if isinstance(content, np.ndarray):  # a single .npy array, not an .npz archive
        raise ModelFileError(f"'{path}' holds a single array, not the archive of arrays a weights file is")
    with content:
        try:
            arrays = {name: content[name] for name in content.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
            raise ModelFileError(f"'{path}' is not a readable weights file ({error})") from None
    missing = [name for name in required if name not in arrays]
    if missing:
        raise ModelFileError(f"'{path}' is not a weights file of this project: it lacks {', '.join(missing)}")
    if arrays["format_version"].shape != () or not np.issubdtype(arrays["format_version"].dtype, np.integer):
        raise ModelFileError(f"'{path}' has a malformed format_version")
    if int(arrays["format_version"]) > FORMAT_VERSION:
        raise ModelFileError(f"'{path}' was saved by a newer version of this project; update your copy")
    return arrays


def checked_array(arrays, name, expected_shape, path):
    """arrays[name] as float32, after checking that it exists, is numeric and has the expected shape."""
    if name not in arrays:
        raise ModelFileError(f"'{path}' lacks the array {name} that its architecture needs")
    array = arrays[name]
    if array.shape != tuple(expected_shape) or not np.issubdtype(array.dtype, np.floating):
        raise ModelFileError(
            f"'{path}': {name} is a {array.dtype} array of shape {array.shape}, but the architecture "
            f"it records needs float values of shape {tuple(expected_shape)}"
        )
    return array.astype(np.float32)
