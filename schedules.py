"""Learning-rate schedules: how the step size changes over the course of training.

A large learning rate early makes fast progress; a small one late lets the weights settle into a minimum
instead of bouncing around it.
"""

import math

SCHEDULES = ("constant", "step", "cosine")


def learning_rate_at(step, total_steps, base_rate, schedule, warmup_steps=0):
    """The learning rate for update number `step` (0-based) out of `total_steps`.

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
