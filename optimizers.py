"""Optimizers: the rule that turns a gradient into a change of the weights.

Each optimizer updates the parameters in place, given their gradients and the current learning rate.
"""

import numpy as np

from subnormals import flush_tiny_values

FLUSH_EVERY = 100  # steps between flushes of tiny values (see subnormals.py); 0.9 ** 100 * 1e-20 > 1e-38


class SGD:
    """Stochastic gradient descent, with optional momentum.

    Plain (momentum 0):  w <- w - learning_rate * g
    Momentum:            v <- momentum * v - learning_rate * g
                         w <- w + v
    The velocity v is a running sum of past steps: directions the gradients agree on build up speed,
    directions where they flip sign from batch to batch cancel out.
    """

    def __init__(self, momentum=0.0):
        self.momentum = np.float32(momentum)
        self.velocities = None  # created on the first step, one per parameter
        self.steps = 0

    def step(self, parameters, gradients, learning_rate):
        learning_rate = np.float32(learning_rate)
        if self.momentum == 0:
            for parameter, gradient in zip(parameters, gradients):
                gradient *= learning_rate  # scaling the gradient in place saves a temporary array
                parameter -= gradient
            return
        if self.velocities is None:
            self.velocities = [np.zeros_like(parameter) for parameter in parameters]
        for parameter, gradient, velocity in zip(parameters, gradients, self.velocities):
            velocity *= self.momentum
            gradient *= learning_rate
            velocity -= gradient
            parameter += velocity
        self.steps += 1
        if self.steps % FLUSH_EVERY == 0:
            for velocity in self.velocities:
                flush_tiny_values(velocity)
