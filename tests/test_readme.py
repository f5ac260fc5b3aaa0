"""README.md keeps to the code: its links land on the right lines, its hyperparameter table matches train.py,
and its test command is the one CI runs.

These test rules, not today's wording: each check is a function of the README's text that returns a list of
problems, each problem a message saying what to change. The tests at the bottom feed every check a wrong
snippet, so that each one is known to be able to fail.
"""

import ast
import difflib
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

import train
from support import command_line

from conftest import REPOSITORY

README = REPOSITORY / "README.md"
LINK = re.compile(r"\[((?:[^\[\]`]|`[^`]*`)*)\]\(<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\)")  # [text](target "title")
LINE_RANGE = re.compile(r"L(\d+)(?:-L(\d+))?")
FENCE = re.compile(r"^\s*(```|~~~)")
PYTEST_COMMAND = re.compile(r"\bpython3? -m pytest\b[^&|;#\n]*")  # up to the next shell operator or comment


def prose_lines(text):
    """(line number, line) for every line of the markdown `text` outside fenced code blocks."""
    inside, lines = False, []
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            inside = not inside
        elif not inside:
            lines.append((number, line))
    return lines


def code_block_lines(text):
    """Every line of the markdown `text` inside fenced code blocks."""
    prose = {number for number, _ in prose_lines(text)}
    return [line for number, line in enumerate(text.splitlines(), 1) if number not in prose and not FENCE.match(line)]


def heading_slugs(text):
    """The anchors GitHub gives the headings of `text`: the heading's words, lowercased, without punctuation
    except hyphens and underscores, spaces turned into hyphens; a repeated heading gets -1, -2, ..."""
    slugs, seen = set(), {}
    for _, line in prose_lines(text):
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading:
            words = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.group(1)).replace("`", "").replace("*", "")
            slug = re.sub(r"[^\w\- ]", "", words.lower()).replace(" ", "-")
            slugs.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
            seen[slug] = seen.get(slug, 0) + 1
    return slugs


def definitions(path, name):
    """The ast nodes of the functions and classes of the Python file `path` that `name` can mean: `Class.method`
    a method of that top-level class; a plain name a top-level definition, else any method of that name."""
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    top = [node for node in tree.body if isinstance(node, kinds)]
    if "." in name:
        owner, method = name.split(".", 1)
        classes = [node for node in top if isinstance(node, ast.ClassDef) and node.name == owner]
        return [node for cls in classes for node in cls.body if isinstance(node, kinds) and node.name == method]
    found = [node for node in top if node.name == name]
    methods = [node for cls in top if isinstance(cls, ast.ClassDef) for node in cls.body if isinstance(node, kinds)]
    return found or [node for node in methods if node.name == name]


def range_problem(base, path, anchor, text):
    """What is wrong with the link `[text](path#anchor)` to lines of a Python file (path relative to the folder `base`);
    None if it starts on the `def`/`class` line (or the first decorator) of the definition its text names and ends
    on its last line. A link to a single line (#L12) must point at the start of the definition."""
    name = text.strip().strip("`").removesuffix("()")
    if not re.fullmatch(r"\w+(\.\w+)?", name):
        return "link text should name the function or class, like [`name`] or [`Class.method`]"
    file = base / path
    nodes = definitions(file, name) if file.is_file() else []
    if not nodes:
        found = [
            f"{other.name}#L{node.lineno}-L{node.end_lineno}"
            for other in sorted(file.parent.glob("*.py"))
            for node in definitions(other, name)
        ]
        where = f", it is in {' and '.join(found)}" if found else ""
        missing = "does not exist" if not file.is_file() else f"has no function or class `{name}`"
        return f"{path} {missing}{where}"
    if len(nodes) > 1:
        return f"{path} has {len(nodes)} definitions of `{name}`: name it `Class.method`"
    node = nodes[0]
    first, last = (int(number) if number else None for number in LINE_RANGE.fullmatch(anchor).groups())
    starts = {node.lineno, *(decorator.lineno for decorator in node.decorator_list[:1])}
    if first not in starts or last not in (None, node.end_lineno):
        return f"should be #L{node.lineno}-L{node.end_lineno}"
    return None


def link_problems(text, base=REPOSITORY, name="README.md"):
    """Every link of the Markdown `text` (the document `name` in the folder `base`) to a file points to a file that
    exists; every link to lines of a Python file spans the definition its text names; every #anchor, in this
    document or in another Markdown file, is a heading's."""
    problems, slugs = [], heading_slugs(text)
    for number, line in prose_lines(text):
        for link in LINK.finditer(line):
            link_text, target = link.group(1), unquote(link.group(2))
            path, _, anchor = target.partition("#")
            problem = None
            if re.match(r"^[a-z][a-z0-9+.-]*:", path, re.IGNORECASE) or path.startswith("//"):
                continue  # http:, https:, mailto: and other sites
            if not path:
                problem = None if anchor in slugs else f"no heading has the anchor #{anchor}"
            elif path.endswith(".py") and LINE_RANGE.fullmatch(anchor):
                problem = range_problem(base, path, anchor, link_text)
            elif not (base / path).exists():
                problem = f"{path} does not exist"
            elif path.endswith(".md") and anchor and anchor not in heading_slugs((base / path).read_text("utf-8")):
                problem = f"{path} has no heading with the anchor #{anchor}"
            if problem:
                problems.append(f"{name}:{number}: {link.group(0)}: {problem}")
    return problems


def command_line_text(value):
    """A constant as it is typed on the command line: [32, 64] -> 32,64; True -> on; 0.1 -> 0.1."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def reads_as(text, default):
    """Whether `text` in the table's default column means `default`: on/off for booleans, numbers compared as
    numbers (0 for 0.0), lists comma-separated without spaces, strings as they are."""
    if isinstance(default, bool):
        return text == command_line_text(default)
    if isinstance(default, list):
        parts = text.split(",")
        return " " not in text and len(parts) == len(default) and all(map(reads_as, parts, default))
    if isinstance(default, (int, float)):
        try:
            return type(default)(text) == default  # as argparse reads it: 0 is 0.0, but 1e4 is no int
        except ValueError:
            return False
    return text == str(default)


def hyperparameter_rows(readme_text):
    """The cells of the rows of the table whose header starts with | variable | flag | default |."""
    lines = [line.strip() for _, line in prose_lines(readme_text)]
    headers = [i for i, line in enumerate(lines) if re.match(r"^\|\s*variable\s*\|\s*flag\s*\|\s*default\s*\|", line)]
    header = headers[0] if headers else None
    rows = []
    for line in lines[header + 2 :] if header is not None else []:  # after the header and its --- row
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return header, rows


def hyperparameter_table_problems(readme_text, constants):
    """The README's hyperparameter table has one row per constant of `constants` ({name: (value, help)}, as
    train.read_constants gives), in the same order, each naming the constant, its flag and its default."""
    header, rows = hyperparameter_rows(readme_text)
    if header is None:
        return ["README.md has no table whose header starts with | variable | flag | default |"]
    problems, names = [], []
    for cells in rows:
        variable = re.fullmatch(r"`(\w+)`", cells[0])
        name = variable.group(1) if variable else cells[0].strip("`")
        names.append(name)
        if name not in constants:
            problems.append(f"row {cells[0]}: not a constant of train.py")
            continue
        if not variable:
            problems.append(f"row {cells[0]}: write the variable in backticks: `{name}`")
        flag, default = f"--{name.replace('_', '-')}", constants[name][0]
        if not re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", cells[1] if len(cells) > 1 else ""):
            problems.append(f"row `{name}`: the flag column should contain `{flag}`")
        shown = cells[2].strip("`") if len(cells) > 2 else ""
        if not reads_as(shown, default):
            problems.append(f"row `{name}`: default is {shown!r}, should be {command_line_text(default)}")
    if names != list(constants):
        problems.append("the rows are not the constants of train.py in order (- train.py, + README.md):")
        problems += list(difflib.unified_diff(list(constants), names, "train.py", "README.md", lineterm=""))[2:]
        for name, (value, help_text) in constants.items():
            if name in names:
                continue
            flag = f"--{name.replace('_', '-')}"
            problems.append(f"missing row: | `{name}` | `{flag}` | {command_line_text(value)} | {help_text} |")
    return problems


def ci_command_problems(readme_text, ci_script):
    """Every `python -m pytest` command in the README's code blocks is a command of the CI script `ci_script`."""
    commands = [found.strip() for line in code_block_lines(readme_text) for found in PYTEST_COMMAND.findall(line)]
    if not commands:
        return ["README.md shows no `python -m pytest` command in a code block"]
    ci_lines = [line.split("#")[0].strip() for line in ci_script.splitlines()]
    problems = []
    for command in commands:
        whole = re.compile(rf"(^|[;&|]\s*){re.escape(command)}\s*($|[;&|])")  # the whole command, not a prefix
        if not any(whole.search(line) for line in ci_lines):
            problems.append(f"README.md runs the tests with `{command}`, .ci/run does not")
    return problems


# ----- the checks, on the real README -----


DOCUMENTS = [README, *sorted((REPOSITORY / "docs").glob("*.md"))]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_links_land_on_their_definitions(document):
    problems = link_problems(document.read_text(encoding="utf-8"), document.parent, document.name)
    assert not problems, "\n".join(problems)


def test_hyperparameter_table_matches_train_py():
    constants = command_line.read_constants(train.__file__, vars(train))
    problems = hyperparameter_table_problems(README.read_text(encoding="utf-8"), constants)
    assert not problems, "\n".join(problems)


def test_readme_test_command_is_the_one_ci_runs():
    problems = ci_command_problems(
        README.read_text(encoding="utf-8"), (REPOSITORY / ".ci" / "run").read_text(encoding="utf-8")
    )
    assert not problems, "\n".join(problems)


# ----- each check can fail -----

MODULE = '''"""A small module."""


def alpha():
    return 1


class Box:
    @staticmethod
    def alpha():
        return 2

    def beta(self):
        return 3
'''


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("[`alpha`](module.py#L4-L5)", None),
        ("[`Box.alpha`](module.py#L9-L11)", None),  # from the decorator
        ("[`Box.alpha`](module.py#L10-L11)", None),  # from the def line
        ("[`beta`](module.py#L13-L14)", None),  # a method, unambiguous
        ("[`Box`](module.py#L8)", None),
        ("[`alpha`](module.py#L4-L6)", "should be #L4-L5"),
        ("[`Box.beta`](module.py#L12-L14)", "should be #L13-L14"),
        ("[`Box.alpha`](module.py#L4-L5)", "should be #L10-L11"),
        ("[`Box`](module.py#L9)", "should be #L8-L14"),
        ("[`gamma`](module.py#L4-L5)", "module.py has no function or class `gamma`"),
        ("[`Box.beta`](other.py#L4-L5)", "other.py does not exist, it is in module.py#L13-L14"),
        ("[`alpha`](module.py#L4-L5) and [`Box.alpha`](module.py#L10)", None),
        ("[the first function](module.py#L4-L5)", "link text should name the function or class"),
        ("[a picture](missing.png)", "missing.png does not exist"),
        ("[a section](#no-such-heading)", "no heading has the anchor #no-such-heading"),
        ("[a section](#a-heading_with-punctuation-and-code)", None),
        ("[the site](https://example.com/x.py#L1-L2)", None),
        ("[a chapter](docs/chapter.md#its-part)", None),
        ("[a chapter](docs/chapter.md#no-part)", "docs/chapter.md has no heading with the anchor #no-part"),
        ("[a chapter](docs/missing.md)", "docs/missing.md does not exist"),
    ],
)
def test_link_check_can_fail(tmp_path, link, expected):
    (tmp_path / "module.py").write_text(MODULE, encoding="utf-8")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "chapter.md").write_text("# A chapter\n\n## Its part\n", encoding="utf-8")
    readme = f"# Title\n\n## A heading_with punctuation, and `code`!\n\nSee {link}.\n\n```text\n[x](nowhere.py)\n```\n"
    problems = link_problems(readme, tmp_path)
    if expected is None:
        assert problems == []
    else:
        assert len(problems) == 1 and expected in problems[0] and link in problems[0], problems


def test_heading_slugs_follow_github():
    readme = "# MNIST from scratch: a network\n## How it works, step by step\n## Tests\n## Tests\n"
    assert heading_slugs(readme) == {"mnist-from-scratch-a-network", "how-it-works-step-by-step", "tests", "tests-1"}


CONSTANTS = {
    "hidden_sizes": ([512], "units"),
    "conv_channels": ([32, 64], "filters"),
    "learning_rate": (0.1, "step"),
    "l2": (0.0, "decay"),
    "keep_best": (False, "best"),
    "weights": ("model_weights.npz", "where"),
}
TABLE = """| variable | flag | default | what it does |
| --- | --- | --- | --- |
| `hidden_sizes` | `--hidden-sizes`, `--hidden-size` | 512 | units |
| `conv_channels` | `--conv-channels` | 32,64 | filters |
| `learning_rate` | `--learning-rate` | 0.1 | step |
| `l2` | `--l2` | 0 | decay |
| `keep_best` | `--keep-best` | off | best |
| `weights` | `--weights` | `model_weights.npz` | where |

After the table.
"""


@pytest.mark.parametrize(
    ("wrong", "right", "expected"),
    [
        ("| 512 |", "| [512] |", "default is '[512]', should be 512"),
        ("| 32,64 |", "| 32, 64 |", "default is '32, 64', should be 32,64"),
        ("| 32,64 |", "| 32 |", "default is '32', should be 32,64"),
        ("| 0.1 |", "| 0.01 |", "default is '0.01', should be 0.1"),
        ("| 0.1 |", "| 0.10 |", None),
        ("| 0 |", "| 0.0 |", None),
        ("| off |", "| False |", "default is 'False', should be off"),
        ("`--l2`", "`--l2-decay`", "should contain `--l2`"),
        ("| `l2` |", "| l2 |", "write the variable in backticks: `l2`"),
        ("| `l2` |", "| `l1` |", "row `l1`: not a constant of train.py"),
        ("| `weights` | `--weights` | `model_weights.npz` | where |\n", "", "missing row: | `weights` | `--weights`"),
    ],
)
def test_hyperparameter_check_can_fail(wrong, right, expected):
    assert hyperparameter_table_problems(TABLE, CONSTANTS) == []
    problems = hyperparameter_table_problems(TABLE.replace(wrong, right, 1), CONSTANTS)
    assert (problems == []) if expected is None else any(expected in problem for problem in problems), problems


def test_hyperparameter_check_wants_train_py_order():
    lines = TABLE.splitlines()
    swapped = "\n".join(lines[:4] + [lines[5], lines[4]] + lines[6:])
    problems = hyperparameter_table_problems(swapped, CONSTANTS)
    assert "the rows are not the constants of train.py in order" in problems[0], problems
    assert "+l2" in problems and "-l2" in problems, problems
    assert hyperparameter_table_problems("No table here.", CONSTANTS)


def test_ci_command_check_can_fail():
    readme = "Run\n\n```bash\npip install -r requirements-dev.txt && python -m pytest\n```\n"
    assert ci_command_problems(readme, "set -e\nruff check .\npython -m pytest\n") == []
    assert ci_command_problems(readme, "python -m pytest -x\n")
    assert ci_command_problems(readme, "# python -m pytest\npytest\n")
    assert ci_command_problems("No command; `python -m pytest` is not in a code block.", "python -m pytest\n")


# ----- the code quoted in the equation table -------------------------------------------------------------


def equation_table_problems(readme_text, root=REPOSITORY):
    """Code quoted in the table under "How the network works" that is not in the function the row points to.

    A row points to the function its link names, or to one it names as "in `name`", or else to the same
    function as the row above. Every other backticked text in its last column must appear in that function.
    """
    section = readme_text.split("## How the network works")[1].split("\n## ")[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| step")]
    problems, source = [], ""
    for row in rows[1:]:  # after the line of dashes
        code = row.rstrip(" |").split(" | ")[-1]
        link = re.search(r"\[`([\w.]+)`\]\(([\w/]+\.py)#L\d+", code)
        named = re.search(r"in `(\w+)`", code)
        if link or named:
            name, path = (link.group(1), link.group(2)) if link else (named.group(1), "train.py")
            found = definitions(root / path, name)
            source = ast.get_source_segment((root / path).read_text(encoding="utf-8"), found[0]) if found else ""
        quoted = re.findall(r"`([^`]+)`", re.sub(r"\[`[\w.]+`\]\([^)]*\)|in `\w+`", "", code))
        problems += [f"README.md: `{text}` is not in the function its row points to" for text in quoted
                     if text not in source]  # fmt: skip
    return problems


def test_the_code_in_the_equation_table_is_the_code():
    problems = equation_table_problems(README.read_text(encoding="utf-8"))
    assert not problems, "\n".join(problems)


def test_equation_table_check_can_fail():
    readme = README.read_text(encoding="utf-8").replace("`H = f(Z)`", "`H = sigmoid(Z)`")
    assert equation_table_problems(readme) == ["README.md: `H = sigmoid(Z)` is not in the function its row points to"]


# ----- each measured figure in one place: the README's copies equal the chapter's --------------------------

MEASURED = re.compile(r"(?<![\d.])\d+\.\d\d%|(?<![\d.])\d+(?:\.\d)? (?:min|s)\b")  # 99.06%, 1.4 min, 83 s


def copied_figure_problems(readme_text, chapter_text):
    """Every accuracy (two decimals) and time in the README's prose and tables also stands in the chapter that
    measured them (docs/results.md): a figure that must appear twice is held equal by this check."""
    problems = []
    for number, line in prose_lines(readme_text):
        for figure in MEASURED.findall(line):
            if figure not in chapter_text:
                problems.append(f"README.md:{number}: {figure} is not in docs/results.md, which measured it")
    return problems


def test_the_readmes_figures_are_the_chapters():
    problems = copied_figure_problems(
        README.read_text("utf-8"), (REPOSITORY / "docs" / "results.md").read_text("utf-8")
    )
    assert not problems, "\n".join(problems)


def test_copied_figure_check_can_fail():
    chapter = "| default | 99.06% | 1.4 min |\n"
    assert copied_figure_problems("It reads **99.06%** in 1.4 min.\n", chapter) == []
    assert copied_figure_problems("It reads 99.07% of them.\n", chapter) == [
        "README.md:1: 99.07% is not in docs/results.md, which measured it"
    ]
    assert (
        copied_figure_problems("```text\nTest accuracy: 98.00%\n```\n", chapter) == []
    )  # program output is not a claim
    assert copied_figure_problems("It took 83 s.\n", chapter)
