"""What each setting of train.py and tune.py may be, checked before any work starts (command_line.py).

A rule is a list of the allowed words, or (kind, test, message): the kind of value (int, float, bool, or a
list such as [int]), a test that each value must pass, and what the value must be when it does not. A new
constant at the top of train.py needs no rule: it then gets the kind of its value, and no test.
"""

from augment import AUGMENTATIONS
from network import ACTIVATIONS, INITIALIZATIONS
from optimizers import OPTIMIZERS, SCHEDULES

HIDDEN_SIZES = ([int], lambda units: 1 <= units <= 100_000, "must each be between 1 and 100,000 units")

TRAIN_RULES = {
    "model": ["mlp", "cnn"],
    "hidden_sizes": HIDDEN_SIZES,
    "conv_channels": ([int], lambda filters: 1 <= filters <= 1024, "must each be between 1 and 1,024 filters"),
    "activation": list(ACTIVATIONS),
    "init": list(INITIALIZATIONS),
    "learning_rate": (float, lambda rate: rate > 0, "must be greater than 0"),
    "optimizer": list(OPTIMIZERS),
    "momentum": (float, lambda share: 0 <= share < 1, "must be at least 0 and less than 1"),
    "batch_size": (int, lambda size: size >= 1, "must be at least 1"),
    "epochs": (int, lambda count: 1 <= count <= 1_000_000, "must be at least 1 (and at most 1,000,000)"),
    "schedule": list(SCHEDULES),
    "warmup_epochs": (float, lambda count: count >= 0, "must not be negative"),
    "clip_norm": (float, lambda norm: norm >= 0, "must not be negative (0 disables clipping)"),
    "l2": (float, lambda penalty: penalty >= 0, "must not be negative"),
    "dropout": (float, lambda rate: 0 <= rate < 1, "must be at least 0 and less than 1"),
    "augment": list(AUGMENTATIONS),
    "max_shift": (int, lambda pixels: pixels >= 0, "must not be negative"),
    "keep_best": (bool,),
    "seed": (int, lambda number: 0 <= number < 2**32, "must be a whole number from 0 to 4294967295"),
    "validation_size": (int, lambda count: count >= 0, "must not be negative"),
    "mistakes_only": (bool,),
}
ALIASES = {"hidden_sizes": ["--hidden-size"]}  # other spellings of a flag of train.py

MAX_TRIALS = 10_000  # a search of more settings than this would take weeks: tune.py refuses it before it starts

TUNE_RULES = {
    "learning_rates": ([float], lambda rate: rate > 0, "must all be greater than 0"),
    "hidden_sizes": (*HIDDEN_SIZES[:2], "must all be between 1 and 100,000 units"),
    "batch_sizes": ([int], lambda size: size >= 1, "must all be at least 1"),
    "epochs": (int, lambda count: 1 <= count <= 10_000, "must be at least 1 (and at most 10,000)"),
    "trials": (int, lambda count: 0 <= count <= MAX_TRIALS, f"must be from 0 to {MAX_TRIALS:,}"),
    "seed": (int, lambda number: 0 <= number < 2**32, "must be a whole number from 0 to 4294967295"),
    "validation_size": (int, lambda count: count >= 1, "must be at least 1: the trials are scored on it"),
}
