"""The constants at the top of a program become its command-line flags, checked before any work starts.

train.py and tune.py declare their settings as plain variables between two lines of dashes, each with a
comment, and a table of RULES saying what each may be. From those, this module makes one flag per variable
(--learning-rate for learning_rate, its value the default, its comment the help) and returns the settings as
`args`, after checking every value, whether it came from the variable, a preset or a flag.

A rule is a list of the allowed words (["mlp", "cnn"]), or (kind, test, message): the kind is int, float,
bool, or a list of one of them ([int]), the test checks each value and the message says what it must be.
Values are read as their kind, the way a learner means them: 1 for a learning rate is 1.0, 3.0 epochs are 3,
and a list can be one number.
"""

import argparse
import ast
import difflib
import io
import math
import re
import sys
import tokenize
from pathlib import Path

from support.files import folder_problem, interrupted_path, output_problem
from support.model_files import MAX_PARAMETERS, is_weights_file, parameter_shapes
from support.rules import ALIASES, TRAIN_RULES

DASHES = re.compile(r"^# -{20,}\s*$")


class SettingError(ValueError):
    """A value that is not of its kind, or breaks its rule; the message says what it must be."""


# ----- reading the constants block --------------------------------------------------------------------------


def read_constants(path, namespace):
    """{name: (value, help)} for every `name = value  # help` between the first two lines of dashes in the file
    `path`. The names and comments come from the file's text; the values from `namespace`, the running module."""
    source = Path(path).read_text(encoding="utf-8")
    dashes = [number for number, line in enumerate(source.splitlines(), 1) if DASHES.match(line)]
    if len(dashes) < 2:
        raise SettingError(f"{Path(path).name} has lost one of the two lines of dashes around its constants; put "
                           "them back (git diff shows what changed)")  # fmt: skip
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    comments = {token.start[0]: token.string.lstrip("#").strip() for token in tokens if token.type == tokenize.COMMENT}
    constants = {}
    for node in ast.parse(source).body:
        if not (isinstance(node, (ast.Assign, ast.AnnAssign)) and dashes[0] < node.lineno < dashes[1]):
            continue
        target = node.targets[0] if isinstance(node, ast.Assign) else node.target  # name = ... or name: kind = ...
        if isinstance(target, ast.Name):
            help_text = comments.get(node.end_lineno) or comments.get(node.lineno) or ""
            constants[target.id] = (namespace[target.id], help_text)
    return constants


# ----- reading a value as its kind, and checking it against its rule -----------------------------------------


def kind_of(name, value, rules):
    """The kind of a setting: from its rule, else from its value (str for paths and names)."""
    rule = rules.get(name)
    if isinstance(rule, list):
        return str
    return rule[0] if rule else type(value)


def as_kind(value, kind):
    """`value` read as `kind` (int, float, bool, str, or [kind] for a list), or SettingError saying what it must be."""
    if isinstance(kind, list):
        items = list(value) if isinstance(value, (list, tuple)) else [value]  # a single number is a list of one
        if not items:
            raise SettingError("must list at least one value")
        return [as_kind(item, kind[0]) for item in items]
    if kind is bool:
        if isinstance(value, bool) or value in (0, 1):
            return bool(value)
        raise SettingError("must be True or False")
    if kind in (int, float) and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise SettingError(f"must be a {'whole number' if kind is int else 'number'}, not {value!r}")
    if kind is int:
        if not float(value).is_integer():
            raise SettingError(f"must be a whole number, not {value!r}")
        return int(value)
    if kind is float:
        return float(value)
    if not isinstance(value, (str, Path)):
        raise SettingError(f"must be text in quotes, not {value!r}")
    return str(value)


def rule_problem(name, value, rules):
    """What is wrong with `value` (already of its kind) for the setting `name`, in words; None if nothing."""
    rule = rules.get(name)
    values = value if isinstance(value, list) else [value]
    if any(isinstance(item, float) and not math.isfinite(item) for item in values):
        return "must be a finite number"
    if isinstance(rule, list):
        return None if value in rule else f"must be one of {', '.join(rule)}, not '{value}'"
    if rule and len(rule) > 1 and not all(rule[1](item) for item in values):
        return rule[2]
    return None


def flag_of(name):
    return f"--{name.replace('_', '-')}"


def format_value(value):
    """A setting as it is typed on the command line: [800, 800] -> 800,800; True -> on."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


# ----- the flags -------------------------------------------------------------------------------------------


def whole_number(text):
    """An argparse type: '3' -> 3 (and '3.0' -> 3); anything else is refused by argparse, naming the flag."""
    number = float(text)
    if not number.is_integer():
        raise ValueError(text)
    return int(number)


whole_number.__name__ = "whole number"  # how argparse names the type in its error message


def whole_number_from(smallest, largest=None):
    """An argparse type for the options of experiments.py and benchmarks/speed.py: a whole number from `smallest`
    (to `largest`); argparse names the option when it is not."""

    def parse(text):
        try:
            number = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, not '{text}'") from None
        if number < smallest or (largest is not None and number > largest):
            limits = f"at least {smallest:,}" if largest is None else f"from {smallest:,} to {largest:,}"
            raise argparse.ArgumentTypeError(f"must be {limits}, not {number:,}")
        return number

    return parse


def comma_separated(kind):
    """An argparse type for lists like '800,800' -> [800, 800] (kind int) or '0.1,0.3' (kind float)."""
    read = whole_number if kind is int else kind

    def parse(text):
        return [read(part) for part in text.split(",")]

    parse.__name__ = f"comma-separated {'whole number' if kind is int else kind.__name__}"
    return parse


class Parser(argparse.ArgumentParser):
    """argparse, with a hint for two natural slips: a list given with spaces, and a misspelt flag."""

    list_flags = ()  # the flags that take a comma-separated list, set by add_flags

    def parse_args(self, argv=None, namespace=None):
        self.argv = list(sys.argv[1:] if argv is None else argv)
        return super().parse_args(self.argv, namespace)

    def error(self, message):
        unknown = message.partition("unrecognized arguments: ")[2].split()
        argv, hint = getattr(self, "argv", []), ""
        starts = [index for index in range(len(argv)) if argv[index : index + len(unknown)] == unknown]
        if unknown and starts:
            position = starts[-1]  # where the unrecognized words begin
            flag_at = max((index for index in range(position) if argv[index].startswith("-")), default=None)
            known = [flag for action in self._actions for flag in action.option_strings]
            close = difflib.get_close_matches(unknown[0].partition("=")[0], known, n=1)
            if flag_at is not None and argv[flag_at] in self.list_flags:
                values = argv[flag_at + 1 : position] + [word for word in unknown if not word.startswith("-")]
                hint = f"; a list is written with commas and no spaces: {argv[flag_at]} {','.join(values)}"
            elif close:
                hint = f"; did you mean {close[0]}?"
        super().error(message + hint)


def add_flags(parser, constants, rules, aliases=None):
    """One flag per constant: --hidden-sizes for hidden_sizes, of the constant's kind, with its default and help.

    The defaults are not given to argparse (SUPPRESS): parse_settings must tell a flag that was given from one
    that was not, to name the right source when a value is wrong."""
    for name, (value, help_text) in constants.items():
        flags = [flag_of(name), *(aliases or {}).get(name, [])]
        kind, shown = kind_of(name, value, rules), format_value(value)
        options = {"default": argparse.SUPPRESS, "help": f"{help_text} (default: {shown})".lstrip()}
        if kind is bool:
            parser.add_argument(*flags, action=argparse.BooleanOptionalAction, **options)
        elif isinstance(kind, list):
            options["help"] = f"{help_text} (comma-separated; default: {shown})".lstrip()
            parser.list_flags = (*getattr(parser, "list_flags", ()), *flags)
            parser.add_argument(*flags, type=comma_separated(kind[0]), metavar="N,N,...", **options)
        else:
            rule = rules.get(name)
            choices = rule if isinstance(rule, list) else None
            read = whole_number if kind is int else kind
            parser.add_argument(*flags, type=read, choices=choices, **options)


def with_dashes(argv, parser):
    """argv with flags typed in the variable's own spelling (--hidden_size) written with dashes (--hidden-size)."""
    known = {flag for action in parser._actions for flag in action.option_strings}
    fixed = []
    for argument in argv:
        flag, equals, value = argument.partition("=")
        dashed = "--" + flag[2:].replace("_", "-")
        fixed.append(dashed + equals + value if argument.startswith("--") and dashed in known else argument)
    return fixed


def parse_settings(parser, argv, program, constants, rules, presets=None):
    """The settings of one run: each constant, replaced by the chosen preset's value, replaced by its flag.

    Every value is read as its kind and checked against its rule; the first problem ends the program with one
    `error:` line that names where the value came from: the flag, the preset, or the line at the top of `program`.
    """
    given = vars(parser.parse_args(with_dashes(argv, parser)))  # only the flags on the command line
    preset_name = given.pop("preset", None)
    preset = (presets or {}).get(preset_name, {})
    for name in preset:
        if name not in constants:
            parser.error(f"PRESETS['{preset_name}'] in {program} sets '{name}', which is not one of the constants "
                         f"at the top of {program}: {', '.join(constants)}")  # fmt: skip
    missing = [name for name in rules if name not in constants]
    if missing:
        parser.error(f"the constant {missing[0]} is missing from the top of {program}; put it back (git diff "
                     f"{program} shows what changed)")  # fmt: skip
    settings = {"preset": preset_name}
    for name, (value, _) in constants.items():
        if name in given:
            value, source = given[name], flag_of(name)
        elif name in preset:
            value, source = preset[name], f"PRESETS['{preset_name}']['{name}'] in {program}"
        else:
            source = f"{name} = {value!r} at the top of {program}"
        try:
            value = as_kind(value, kind_of(name, constants[name][0], rules))
            problem = rule_problem(name, value, rules)
        except SettingError as error:
            problem = str(error)
        if problem:
            parser.error(f"{source}: {problem}" if source[0] != "-" else f"{source} {problem}")
        settings[name] = value
    return argparse.Namespace(**{**given, **settings})


def default_settings(path, namespace, rules, **changes):
    """The constants of the program `path` as settings, like a run without flags gets them, with `changes` made."""
    constants = read_constants(path, namespace)
    settings = {name: as_kind(value, kind_of(name, value, rules)) for name, (value, _) in constants.items()}
    return argparse.Namespace(**{**settings, "preset": None, **changes})


# ----- train.py's command line ---------------------------------------------------------------------------


def parse_train_arguments(argv, path, namespace, presets):
    """train.py's settings for one run (parse_settings), also checked for what needs several of them at once."""
    parser = Parser(prog="train.py", description="Train a from-scratch NumPy network on MNIST.")
    parser.add_argument("--preset", choices=sorted(presets), help="a named recipe from PRESETS in train.py (minutes)")
    try:
        constants = read_constants(path, namespace)
    except SettingError as error:
        parser.error(str(error))
    add_flags(parser, constants, TRAIN_RULES, ALIASES)
    parser.add_argument("--no-show", action="store_true", help="save the figures but open no window")
    args = parse_settings(parser, sys.argv[1:] if argv is None else argv, "train.py", constants, TRAIN_RULES, presets)
    problem = training_problem(args)
    if problem:
        parser.error(problem)
    return args


def training_problem(args):
    """Settings that contradict each other, or outputs that could not be written: checked before any training."""
    if args.keep_best and args.validation_size == 0:
        return "--keep-best needs a validation set (--validation-size > 0)"
    return (
        output_problem(args.weights, "--weights", is_ours=is_weights_file)
        or output_problem(interrupted_path(args.weights), "--weights (for an interrupted run)", is_ours=is_weights_file)
        or folder_problem(args.results_dir, "--results-dir")
    )


def check_model(args, image_shape, name_of=flag_of):
    """SettingError when the network args describe would not fit the images, or be too large; name_of(setting) says
    how the message names a setting (its flag, by default)."""
    numbers = {"image_shape": list(image_shape), "conv_channels": args.conv_channels, "hidden_sizes": args.hidden_sizes,
               "kernel_size": [5], "layer_sizes": [math.prod(image_shape), *args.hidden_sizes, 10]}  # fmt: skip
    try:
        count = sum(math.prod(shape) for shape in parameter_shapes(args.model, numbers))
    except ValueError as error:
        raise SettingError(f"{name_of('conv_channels')}: {error}; use fewer convolution layers") from None
    if count > MAX_PARAMETERS:
        options = " and ".join(name_of(name) for name in ["hidden_sizes", "conv_channels"][: 1 + (args.model == "cnn")])
        raise SettingError(f"{options}: that network would have {count:,} parameters ({count * 4 / 1e9:.1f} GB); "
                           f"this program builds at most {MAX_PARAMETERS:,}")  # fmt: skip
    if args.augment in ("shift", "affine") and args.max_shift >= min(image_shape):
        raise SettingError(f"{name_of('max_shift')} {args.max_shift} is as large as the {image_shape[0]}x"
                           f"{image_shape[1]} images: every digit would leave the frame")  # fmt: skip


def settings_record(args):
    """The settings of a run as plain values, to be saved with its model (and shown when runs are compared)."""
    return {name: value for name, value in vars(args).items() if isinstance(value, (bool, int, float, str, list))}
