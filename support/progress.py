"""The lines a run prints: one per epoch, a progress bar within long epochs on a terminal, and summaries."""

import sys
import time

PROGRESS_AFTER_SECONDS = 1  # an epoch shows a progress line once it has run this long (on a terminal only)


def plural(count, noun):
    """'1 epoch', '3 epochs', '1,000 images'."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def format_epoch(record, total_epochs):
    """One line per epoch; it starts with 'epoch' and ends with the epoch's training time."""
    validation = "-" if record["val_accuracy"] is None else f"{100 * record['val_accuracy']:.2f}%"
    return (
        f"epoch {record['epoch']:>{len(str(total_epochs))}}/{total_epochs}"
        f"  loss {record['train_loss']:.4f}"
        f"  train {100 * record['train_accuracy']:.2f}%"
        f"  val {validation}"
        f"  lr {record['learning_rate']:.4f}"
        f"  {record['seconds']:.2f}s"
    )


def describe(network):
    """'784-512-10', or for a cnn '28x28 -> conv 32, 64 -> 1024-256-10' (the dense part's input size included)."""
    sizes = "-".join(map(str, network.layer_sizes))
    if hasattr(network, "conv_channels"):
        height, width = network.image_shape
        return f"{height}x{width} -> conv {', '.join(map(str, network.conv_channels))} -> {sizes}"
    return sizes


def clipping_summary(history, clip_norm):
    """What gradient clipping did in this run, as a list of lines: none if it shortened no step."""
    clipped, steps = sum(record["clipped"] for record in history), sum(record["steps"] for record in history)
    if not clipped:
        return []
    return [f"Gradient clipping shortened {plural(clipped, 'step')} of {steps:,} (--clip-norm {clip_norm:g})"]


class Progress:
    """How far the current epoch has come, on one line of a terminal that each update overwrites.

    Only on a terminal (a log file or a pipe gets one line per epoch, nothing else), and only once an epoch
    has run for PROGRESS_AFTER_SECONDS: short epochs need no progress bar.
    """

    def __init__(self, stream=sys.stderr):
        self.stream = stream if stream is not None and stream.isatty() else None
        self.epoch_started, self.shown = time.monotonic(), False

    def update(self, epoch, total_epochs, steps_done, steps_per_epoch):
        if self.stream is None:
            return
        if steps_done == 1:
            self.epoch_started = time.monotonic()
        running_long = time.monotonic() - self.epoch_started > PROGRESS_AFTER_SECONDS
        if running_long and (steps_done % 10 == 0 or steps_done == steps_per_epoch):
            filled = 30 * steps_done // steps_per_epoch
            self.stream.write(f"\repoch {epoch}/{total_epochs} [{'#' * filled}{'.' * (30 - filled)}] "
                              f"{steps_done}/{steps_per_epoch} steps")  # fmt: skip
            self.stream.flush()
            self.shown = True

    def clear(self):
        """Erase the progress line, so that the next line of output starts on a clean line."""
        if self.shown:
            self.stream.write("\r" + " " * 79 + "\r")
            self.stream.flush()
            self.shown = False
