"""Tune the learning rate, hidden size and batch size the right way: on the validation set.

    python tune.py                    # the grid below: 27 short trials, a few minutes on 2 cores
    python tune.py --trials 20        # random search: 20 settings drawn from the ranges below
    python tune.py --learning-rates 0.05,0.1 --hidden-sizes 256 --batch-sizes 128 --epochs 3

Why not simply keep the setting with the best test accuracy? Because then the test set has helped to choose
the model, and its accuracy no longer tells how the model does on digits it has never seen: it is flattered
by the choice. So every trial here trains on the training images and is scored on the validation images,
and this script never reads the test files. Train the winner with the command it prints; that run looks at
the test set once, at the very end.

Each trial is a short run of train.py's own training loop (everything not searched here, such as momentum,
the schedule and augmentation, comes from the constants at the top of train.py).
"""

import support.startup  # first: a clear message if NumPy is missing, and a clean Ctrl-C (support/startup.py)

import csv
import io
import math
import sys
import time
from pathlib import Path

import numpy as np

import data_loader
import train
import visualize
from support import command_line, diagnosis
from support.files import interrupted_path, output_problem, write_atomically
from support.progress import plural
from support.rules import MAX_TRIALS, TUNE_RULES

# -----------------------------------------------------------------------------------------------------
# The search space. Change it here, or for one search on the command line: python tune.py --epochs 3
learning_rates = [0.03, 0.1, 0.3]  # peak learning rates to try
hidden_sizes = [128, 256, 512]  # hidden-layer sizes to try
batch_sizes = [64, 128, 256]  # mini-batch sizes to try
epochs = 6  # epochs per trial: enough to rank the settings, not to reach the final accuracy
trials = 0  # 0 tries every combination (grid search); N > 0 draws N random settings (random search)
seed = 0  # the same seed for every trial, so that only the hyperparameters differ
data_dir = "data"  # folder with the MNIST files (only the training files are read)
validation_size = 10000  # training images held out to score the trials
results_dir = "results"  # where tuning.csv and tuning.png go
# -----------------------------------------------------------------------------------------------------
# As in train.py, each line above is also a flag (--learning-rates for learning_rates), a list comma-separated.

TABLE_COLUMNS = ["rank", "learning_rate", "hidden_size", "batch_size", "val_accuracy", "train_loss", "seconds",
                 "status"]  # fmt: skip


def parse_arguments(argv=None):
    parser = command_line.Parser(prog="tune.py", description="Search hyperparameters on the validation set.")
    constants = command_line.read_constants(__file__, globals())
    command_line.add_flags(parser, constants, TUNE_RULES)
    parser.add_argument("--no-show", action="store_true", help="save the figure but open no window")
    args = command_line.parse_settings(parser, sys.argv[1:] if argv is None else argv, "tune.py", constants, TUNE_RULES)
    problem = search_size_problem(args)
    for name in ("tuning.csv", "tuning.png", "tuning.interrupted.csv", "tuning.interrupted.png"):
        problem = problem or output_problem(Path(args.results_dir) / name, "--results-dir", create_folders=True)
    if problem:
        parser.error(problem)
    return args


def search_size_problem(args):
    """A search too large to run (a grid is every combination of the three lists), before it is built."""
    size = len(args.learning_rates) * len(args.hidden_sizes) * len(args.batch_sizes)
    if args.trials == 0 and size > MAX_TRIALS:
        return (f"--learning-rates, --hidden-sizes and --batch-sizes make a grid of {size:,} settings, more than "
                f"the {MAX_TRIALS:,} a search may try; give fewer values, or draw some with --trials N")  # fmt: skip
    return None


def settings_to_try(args):
    """The grid of every combination, or, with --trials N, N random settings.

    Random search draws the learning rate log-uniformly between the smallest and the largest given (so
    0.01-0.1 is as likely as 0.1-1), and the hidden and batch sizes from their lists.
    """
    if args.trials == 0:
        return [(rate, hidden, batch) for rate in args.learning_rates for hidden in args.hidden_sizes
                for batch in args.batch_sizes]  # fmt: skip
    rng = np.random.default_rng(args.seed)
    low, high = math.log(min(args.learning_rates)), math.log(max(args.learning_rates))
    return [
        (float(f"{math.exp(rng.uniform(low, high)):.3g}"), int(rng.choice(args.hidden_sizes)),
         int(rng.choice(args.batch_sizes)))
        for _ in range(args.trials)
    ]  # fmt: skip


def trial_settings(setting, args):
    """train.py's settings for one trial: its constants, with the searched values and this search's options."""
    learning_rate, hidden_size, batch_size = setting
    return train.default_settings(learning_rate=learning_rate, hidden_sizes=[hidden_size], batch_size=batch_size,
                                  epochs=args.epochs, seed=args.seed, validation_size=args.validation_size)  # fmt: skip


def setting_name(name):
    """How an error names a setting: tune.py's own flag, or the constant of train.py that every trial uses."""
    return "--hidden-sizes" if name == "hidden_sizes" else f"{name} (at the top of train.py, which every trial uses)"


def run_trial(setting, data, image_shape, args):
    """Train one setting with train.py's loop; its result: validation accuracy, final training loss, time."""
    trial_args = trial_settings(setting, args)
    network, optimizer = train.build_model(trial_args, image_shape)
    result = {"learning_rate": setting[0], "hidden_size": setting[1], "batch_size": setting[2],
              "val_accuracy": math.nan, "train_loss": math.nan, "status": "ok"}  # fmt: skip
    started = time.perf_counter()
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            history, interruption = train.train(network, optimizer, *data, trial_args, log=lambda line: None)
    except diagnosis.DivergedError:
        history, interruption, result["status"] = [], None, "diverged"
    except diagnosis.NotLearningError:
        history, interruption, result["status"] = [], None, "not learning"
    result["seconds"] = time.perf_counter() - started
    if history:
        result["val_accuracy"], result["train_loss"] = history[-1]["val_accuracy"], history[-1]["train_loss"]
    if interruption:
        raise interruption  # a trial stopped half-way is no result: the search ends with the finished ones
    return result


def format_trial(number, total, result):
    """The progress line of one trial."""
    setting = (f"lr {result['learning_rate']:<7g} hidden {result['hidden_size']:<5} "
               f"batch {result['batch_size']:<4}")  # fmt: skip
    if result["status"] == "ok":
        outcome = f"val {100 * result['val_accuracy']:6.2f}%  loss {result['train_loss']:.4f}"
    else:
        outcome = f"{result['status']:<25}"
    return f"trial {number:>{len(str(total))}}/{total}  {setting}  {outcome}  {result['seconds']:.1f}s"


def estimated_total_seconds(first_result, settings):
    """A rough estimate of the whole search: the first trial's time, once per setting.

    Bigger layers take longer, but much of a trial's time (augmentation, evaluation) does not depend on the
    hidden size; on the default grid this guess came within a fifth of the measured total.
    """
    return first_result["seconds"] * len(settings)


def ranked(results):
    """Finished trials best first by validation accuracy, then the failed ones; each with its rank."""
    finished = sorted((r for r in results if r["status"] == "ok"), key=lambda r: -r["val_accuracy"])
    failed = [r for r in results if r["status"] != "ok"]
    return [{**result, "rank": rank} for rank, result in enumerate(finished, start=1)] + [
        {**result, "rank": "-"} for result in failed
    ]


def format_table(rows):
    lines = ["rank  learning rate  hidden  batch  val accuracy  train loss  seconds"]
    for row in rows:
        accuracy = f"{100 * row['val_accuracy']:11.2f}%" if row["status"] == "ok" else f"{row['status']:>12}"
        loss = f"{row['train_loss']:10.4f}" if row["status"] == "ok" else f"{'-':>10}"
        lines.append(f"{row['rank']:>4}  {row['learning_rate']:>13g}  {row['hidden_size']:>6}  {row['batch_size']:>5}"
                     f"  {accuracy}  {loss}  {row['seconds']:7.1f}")  # fmt: skip
    return "\n".join(lines)


def paste_instructions(best, args):
    """The winning setting as lines for the top of train.py and as a command."""
    return "\n".join([
        f"Best setting: validation accuracy {100 * best['val_accuracy']:.2f}% after {plural(args.epochs, 'epoch')}.",
        "Paste at the top of train.py:",
        f"    hidden_sizes = [{best['hidden_size']}]",
        f"    learning_rate = {best['learning_rate']:g}",
        f"    batch_size = {best['batch_size']}",
        "or run:",
        f"    python train.py --learning-rate {best['learning_rate']:g} --hidden-size {best['hidden_size']} "
        f"--batch-size {best['batch_size']}",
    ])  # fmt: skip


def save_csv(rows, path):
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=TABLE_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda file: file.write(text.getvalue().encode()))
    print(f"Saved table: {path}")


def main(argv=None):
    search(parse_arguments(argv))


def search(args):
    """Load the training data, run every trial, then rank, save and draw the results."""
    try:
        data = data_loader.load_training_data(args.data_dir, args.validation_size)  # never the test files
        image_shape = data_loader.read_image_shape(args.data_dir)
        for hidden_size in sorted(set(args.hidden_sizes)):  # each network must fit the images, and memory
            command_line.check_model(trial_settings((0.1, hidden_size, 1), args), image_shape, setting_name)
    except (data_loader.DataError, command_line.SettingError) as error:
        sys.exit(f"error: {error}")
    settings = settings_to_try(args)
    kind = "random search" if args.trials else "grid search"
    print(f"Tuning: {kind} of {plural(len(settings), 'setting')}, {plural(args.epochs, 'epoch')} each, scored on "
          f"{len(data[2]):,} validation images")  # fmt: skip

    results, interruption = [], None
    try:
        for number, setting in enumerate(settings, start=1):
            results.append(run_trial(setting, data, image_shape, args))
            print(format_trial(number, len(settings), results[-1]), flush=True)
            if number == 1 and len(settings) > 1:
                estimate = estimated_total_seconds(results[-1], settings)
                print(f"Estimated total time: about {estimate / 60:.1f} minutes ({estimate:.0f} seconds)")
    except KeyboardInterrupt as stop:
        interruption = stop
        print(f"Search interrupted ({support.startup.name_of(stop)}) after {plural(len(results), 'complete trial')}; "
              "ranking those.")  # fmt: skip
    if not results:  # only an interruption ends a search before its first trial: a failed trial is a result too
        print("No trial finished: tuning.csv and tuning.png were not changed.", file=sys.stderr)
        raise interruption
    save_results(results, args, interruption, train_count=len(data[0]))
    if interruption:
        raise interruption  # ends the program as Ctrl-C does (support/startup.py)
    visualize.show_or_close(not args.no_show, Path(args.results_dir) / "tuning.png")


def save_results(results, args, interruption, train_count):
    """Print the ranking and the advice, and save the table and the figure: an interrupted search under names
    that say so, so that it never replaces the table of a finished one."""
    rows = ranked(results)
    print(format_table(rows))
    print(
        paste_instructions(rows[0], args) if rows[0]["status"] == "ok" else failure_advice(results, args, train_count)
    )
    table, figure = Path(args.results_dir) / "tuning.csv", Path(args.results_dir) / "tuning.png"
    if interruption:
        table, figure = interrupted_path(table), interrupted_path(figure)
    try:
        save_csv(rows, table)
        visualize.plot_tuning_results(results, figure)
    except OSError as error:
        sys.exit(f"error: could not save the results in '{args.results_dir}' ({error.strerror or error})")
    if interruption:
        print(f"(of the interrupted search: tuning.csv and tuning.png in '{args.results_dir}' were not changed)")


def failure_advice(results, args, train_count):
    """Every trial failed: what this search's evidence says to change."""
    diverged = sorted(r["learning_rate"] for r in results if r["status"] == "diverged")
    stuck = sorted(r["learning_rate"] for r in results if r["status"] == "not learning")
    if diverged and not stuck:
        return f"Every trial diverged: learning rates of {diverged[0]:g} and above were too large; try smaller ones."
    if diverged:
        return (f"Every trial failed: the learning rates {', '.join(f'{rate:g}' for rate in stuck)} did not learn "
                f"and {', '.join(f'{rate:g}' for rate in diverged)} diverged; try values in between.")  # fmt: skip
    longest = max(args.epochs * math.ceil(train_count / batch) for batch in args.batch_sizes)
    causes = []
    if longest < diagnosis.STEPS_BEFORE_JUDGING:
        causes.append(f"the trials were too short (at most {plural(longest, 'gradient step')} each): use more "
                      "--epochs or smaller --batch-sizes")  # fmt: skip
    if train_count < 100:
        causes.append(f"{plural(train_count, 'training image')} are too few: use a smaller --validation-size")
    if stuck[-1] < diagnosis.STARTING_LEARNING_RATES["momentum"] / 30:
        causes.append(f"the learning rates (up to {stuck[-1]:g}) were too small: try larger ones")
    if not causes:
        causes.append("check the data (--data-dir) and the settings at the top of train.py, which every trial uses")
    return f"No trial learned. Likely: {'; '.join(causes)}."


if __name__ == "__main__":
    support.startup.run(main)
