"""Optimizers: the rule that turns a gradient into a change of the weights.

Each optimizer updates the parameters in place, given their gradients and the current learning rate.
Those that remember something between steps (a velocity, running averages) keep one array per parameter.
In the formulas, w is a parameter, g its gradient and lr the learning rate.
"""

import numpy as np

from subnormals import flush_tiny_values

OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam")
# Steps between flushes of tiny values (see subnormals.py). A value just above TINY = 1e-20 that shrinks by a
# factor of 0.9 per step is still 0.9 ** 100 * 1e-20 = 3e-25, far from the subnormal 1.2e-38, when the next
# flush comes; that holds for every decay factor above 0.66. Faster-decaying values pass through the subnormal
# range between two flushes, but quickly.
FLUSH_EVERY = 100


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
