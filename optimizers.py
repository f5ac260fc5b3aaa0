"""How a gradient becomes a step: the update rules (optimizers), gradient clipping, and the learning rate over time.

Each optimizer updates the parameters in place, given their gradients and the current learning rate.
Those that remember something between steps (a velocity, running averages) keep one array per parameter.
In the formulas, w is a parameter, g its gradient and lr the learning rate. At the end of the file: why
training code sets very small numbers to exactly zero (subnormal numbers), a matter of speed, not of math.
"""

import math

import numpy as np

OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam")
SCHEDULES = ("constant", "step", "cosine")


def make_optimizer(name, momentum=0.9):
    """The optimizer called `name`; `momentum` is used by 'momentum' and 'nesterov'."""
    if name == "sgd":
        return SGD(momentum=0)
    if name == "momentum":
        return SGD(momentum=momentum)
    if name == "nesterov":
        return SGD(momentum=momentum, nesterov=True)
    if name == "rmsprop":
        return RMSProp()
    if name == "adam":
        return Adam()
    raise ValueError(f"unknown optimizer '{name}'; choose one of {', '.join(OPTIMIZERS)}")


class Optimizer:
    """What all optimizers share: state arrays created on the first step, flushed of tiny values now and then.

    Each optimizer says how many arrays it remembers per parameter and how to update one parameter.
    """

    arrays_per_parameter = 0

    def __init__(self):
        self.steps = 0
        self.state = None  # for each parameter, a list of arrays the optimizer remembers

    def step(self, parameters, gradients, learning_rate):
        if self.state is None:
            self.state = [
                [np.zeros_like(parameter) for _ in range(self.arrays_per_parameter)] for parameter in parameters
            ]
        self.steps += 1
        learning_rate = np.float32(learning_rate)
        for parameter, gradient, state in zip(parameters, gradients, self.state):
            self.update(parameter, gradient, learning_rate, *state)
        if self.steps % FLUSH_EVERY == 0:
            for array in (array for state in self.state for array in state):
                flush_tiny_values(array)

    def update(self, parameter, gradient, learning_rate, *state):
        """Change `parameter` in place, given its gradient and the arrays remembered for it."""
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum.

    Plain (momentum 0):  w <- w - lr * g
    Momentum:            v <- momentum * v - lr * g;   w <- w + v
    Nesterov:            v <- momentum * v - lr * g;   w <- w + momentum * v - lr * g
    The velocity v is a running sum of past steps: directions the gradients agree on build up speed,
    directions where they flip sign from batch to batch cancel out. Nesterov's variant takes the step
    the velocity is about to take, then corrects it with the gradient: it overshoots less.
    """

    def __init__(self, momentum=0.0, nesterov=False):
        super().__init__()
        self.momentum = np.float32(momentum)
        self.nesterov = nesterov
        self.arrays_per_parameter = 0 if momentum == 0 else 1  # the velocity, when there is momentum

    def update(self, parameter, gradient, learning_rate, velocity=None):
        step = learning_rate * gradient  # lr * g
        if velocity is None:  # plain SGD
            parameter -= step
            return
        velocity *= self.momentum
        velocity -= step  # v = momentum * v - lr * g
        if self.nesterov:
            parameter += self.momentum * velocity - step
        else:
            parameter += velocity


class RMSProp(Optimizer):
    """Divide each step by a running average of the gradient's recent size (Hinton, 2012).

    s <- decay * s + (1 - decay) * g^2
    w <- w - lr * g / (sqrt(s) + epsilon)
    Weights whose gradients are consistently large take smaller steps, rarely-updated ones larger.
    """

    arrays_per_parameter = 1  # s

    def __init__(self, decay=0.9, epsilon=1e-8):
        super().__init__()
        self.decay, self.epsilon = np.float32(decay), np.float32(epsilon)

    def update(self, parameter, gradient, learning_rate, mean_square):
        mean_square *= self.decay
        mean_square += (1 - self.decay) * gradient * gradient
        parameter -= learning_rate * gradient / (np.sqrt(mean_square) + self.epsilon)


class Adam(Optimizer):
    """Momentum and RMSProp combined, with a correction for their zero start (Kingma and Ba, 2015).

    m <- beta1 * m + (1 - beta1) * g          running average of the gradient
    v <- beta2 * v + (1 - beta2) * g^2        running average of its square
    w <- w - lr * m_hat / (sqrt(v_hat) + epsilon),   m_hat = m / (1 - beta1^t),  v_hat = v / (1 - beta2^t)
    At step t = 1, m is only (1 - beta1) * g: dividing by (1 - beta1^t) undoes that bias towards 0.
    """

    arrays_per_parameter = 2  # m and v

    def __init__(self, beta1=0.9, beta2=0.999, epsilon=1e-8):
        super().__init__()
        self.beta1, self.beta2, self.epsilon = np.float32(beta1), np.float32(beta2), np.float32(epsilon)

    def update(self, parameter, gradient, learning_rate, mean, mean_square):
        mean *= self.beta1
        mean += (1 - self.beta1) * gradient
        mean_square *= self.beta2
        mean_square += (1 - self.beta2) * gradient * gradient
        mean_corrected = mean / (1 - self.beta1**self.steps)
        mean_square_corrected = mean_square / (1 - self.beta2**self.steps)
        parameter -= learning_rate * mean_corrected / (np.sqrt(mean_square_corrected) + self.epsilon)


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


def learning_rate_at(step, total_steps, base_rate, schedule, warmup_steps=0):
    """The learning rate for update number `step` (0-based) out of `total_steps`.

    A large learning rate early makes fast progress; a small one late lets the weights settle into a minimum
    instead of bouncing around it.
    constant: base_rate throughout.
    step:     base_rate, then base_rate / 10 from half-way, then base_rate / 100 from three quarters.
    cosine:   falls from base_rate to 0 along half a cosine wave: base_rate * (1 + cos(pi * t)) / 2,
              with t the fraction of training done.
    Warm-up: during the first `warmup_steps` updates the rate grows linearly from near 0 up to the
    schedule's value, which keeps the very first, noisiest steps small.
    """
    progress = step / max(total_steps, 1)  # fraction of training done, 0 -> 1
    if schedule == "constant":
        rate = base_rate
    elif schedule == "step":
        rate = base_rate * 0.1 ** ((progress >= 0.5) + (progress >= 0.75))
    elif schedule == "cosine":
        rate = base_rate * 0.5 * (1 + math.cos(math.pi * progress))
    else:
        raise ValueError(f"unknown schedule '{schedule}'; choose one of {', '.join(SCHEDULES)}")
    if step < warmup_steps:
        rate *= min(1.0, (step + 1) / warmup_steps)  # warmup_steps need not be a whole number
    return rate


# ----- Subnormal numbers: why very small values are set to exactly zero --------------------------------------
#
# float32 stores numbers down to about 1.2e-38 with full precision. Below that, down to 1.4e-45, it has
# "subnormal" (denormal) numbers with fewer significant bits. Many CPUs handle them in a slow path, so a matrix
# full of them can make every operation on it many times slower.
#
# Training produces them in two ways. A softmax that is very sure of itself gives the other digits
# probabilities like exp(-100), far below 1.2e-38, and so does the gradient (P - Y) / B built from them. And
# quantities that shrink by a constant factor every step, such as a momentum velocity where the gradient is
# always 0 (pixels at the border of the image are never lit), pass through the subnormal range on their way
# to 0. The cure is to flush such values to zero: a value below TINY cannot change a weight anyway (adding
# 1e-20 to any float32 number larger than about 1e-13 leaves it unchanged), so flushing changes nothing that
# matters. softmax_cross_entropy (network.py) flushes the output gradient dZ; the optimizers flush what they
# remember every FLUSH_EVERY steps. A value just above TINY that shrinks by a factor of 0.9 per step is still
# 0.9 ** 100 * 1e-20 = 3e-25, far from 1.2e-38, when the next flush comes; that holds for every decay factor
# above 0.66. Faster-decaying values pass through the subnormal range between two flushes, but quickly.

TINY = np.float32(1e-20)
FLUSH_EVERY = 100


def flush_tiny_values(array):
    """Set the entries of `array` whose magnitude is below TINY to exactly zero, in place."""
    array[np.abs(array) < TINY] = 0
