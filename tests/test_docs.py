"""The documents are part of the product: every link resolves, every command is listed and shown, and every
option written in a command line exists. Parsers are read in this process, none of the commands is started."""

import argparse
import os
import re
import shlex
import unicodedata

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")
README = os.path.join(ROOT, "README.md")
FAIRSEQ_COMMANDS = ("fairseq-train", "fairseq-preprocess", "fairseq-hydra-train")
SUBCOMMANDS = ("cxlm-import", "cxlm-download")  # their first argument picks a sub-parser
SEPARATORS = {";", "&&", "||", "|", "&", "\n"}


def pages():
    return [README] + sorted(os.path.join(DOCS, name) for name in os.listdir(DOCS) if name.endswith(".md"))


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def without_code(text):
    """The text with fenced code blocks blanked (their lines kept, so line numbers stay)."""
    return re.sub(r"^```.*?^```", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S | re.M)


def code_blocks(text, languages=("bash", "sh", "console")):
    return [m.group(2) for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.S | re.M) if m.group(1) in languages]


def slug(heading):
    """GitHub's anchor of a heading: its text without markup, lowercased, punctuation dropped, spaces as '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = text.replace("`", "").replace("*", "").strip().lower()
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LN")
    return kept.replace(" ", "-")


def anchors(path):
    found, seen = set(), {}
    for heading in re.findall(r"^#{1,6} +(.+?) *#*$", without_code(read(path)), re.M):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def console_scripts():
    """name -> 'module:function', as setup.py declares them."""
    return dict(re.findall(r'"(cxlm-[\w-]+) = ([\w.]+:\w+)"', read(os.path.join(ROOT, "setup.py"))))


def test_readme_is_a_front_page():
    lines = read(README).splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; the rest belongs in docs/"
    assert "make test" in read(README) and "make demo" in read(README)


def test_every_link_and_anchor_resolves():
    checked, broken = 0, []
    for page in pages():
        for target in re.findall(r"\]\(([^)\s]+)\)", without_code(read(page))):
            if re.match(r"[a-z]+:", target):
                continue  # a web address
            path, _, anchor = target.partition("#")
            resolved = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
            checked += 1
            if not os.path.exists(resolved):
                broken.append(f"{os.path.relpath(page, ROOT)}: {target} (no such file)")
            elif anchor and (not resolved.endswith(".md") or anchor not in anchors(resolved)):
                broken.append(f"{os.path.relpath(page, ROOT)}: {target} (no such heading)")
    assert not broken, "\n".join(broken)
    assert checked > 30  # the pages do link to each other and to the code


def test_no_page_tells_history():
    told = []
    pattern = re.compile(
        r"\bthis session\b|\bsessions\b|\bthe review\b|\bthis time\b|has been lent|\b20\d\d-\d\d-\d\d\b", re.I
    )
    for page in pages():
        for number, line in enumerate(read(page).splitlines(), 1):
            if pattern.search(line):
                told.append(f"{os.path.relpath(page, ROOT)}:{number}: {line.strip()}")
    assert not told, "\n".join(told)


def test_every_command_is_in_the_readme_table_and_shown_in_the_docs():
    readme_rows = [line for line in read(README).splitlines() if line.startswith("|")]
    shown = set()
    for page in pages()[1:]:
        for block in code_blocks(read(page)):
            for line in block.splitlines():
                words = [w for w in line.split() if not re.match(r"^\w+=", w)]  # VAR=value before the command
                if words:
                    shown.add(words[0])
    scripts = console_scripts()
    assert len(scripts) >= 18
    for name in scripts:
        assert any(f"`{name}`" in row.split("|")[1] for row in readme_rows if row.count("|") > 2), (
            f"{name} has no row in the README's commands table"
        )
        assert name in shown, f"no page of docs/ shows a usage line of {name} in a bash block"


class Captured(BaseException):
    def __init__(self, parser):
        self.parser = parser


def captured_parser(target, monkeypatch):
    """The argparse parser a command's main builds: its first parse_args is interrupted and handed back."""
    module, function = target.split(":")

    def capture(self, args=None, namespace=None):
        raise Captured(self)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", capture)
    monkeypatch.setattr(argparse.ArgumentParser, "parse_known_args", capture)
    main = getattr(__import__(module, fromlist=[function]), function)
    try:
        main([])
    except Captured as got:
        return got.parser
    finally:
        monkeypatch.undo()
    raise AssertionError(f"{target} parsed no arguments")


def option_strings(parser):
    flags, subparsers = set(), {}
    for action in parser._actions:
        flags.update(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                subparsers[name] = option_strings(sub)[0]
    return flags, subparsers


@pytest.fixture(scope="module")
def known_options():
    """command -> (its flags, {sub-command: its flags}), for our commands, fairseq's, Hydra's and torchrun."""
    from fairseq import options, registry, tasks
    from fairseq.dataclass.utils import gen_parser_from_dataclass
    from fairseq.models import ARCH_MODEL_REGISTRY, MODEL_DATACLASS_REGISTRY
    from hydra._internal.utils import get_args_parser
    from torch.distributed.run import get_args_parser as torchrun_parser

    import fairseq_contrastive_xlm  # noqa: F401  registers the task, model and criterion, as --user-dir does

    monkeypatch = pytest.MonkeyPatch()
    known = {name: option_strings(captured_parser(target, monkeypatch)) for name, target in console_scripts().items()}

    fairseq = argparse.ArgumentParser(conflict_handler="resolve")
    for parser in (options.get_training_parser(), options.get_preprocessing_parser()):
        fairseq._add_container_actions(parser)
    components = [*tasks.TASK_REGISTRY.values(), *ARCH_MODEL_REGISTRY.values()]
    components += [cls for r in registry.REGISTRIES.values() for cls in r["registry"].values()]
    for component in components:
        if hasattr(component, "add_args"):
            try:
                component.add_args(fairseq)
            except Exception:  # a component whose options need an optional package fairseq does not install
                pass
    dataclasses = [*MODEL_DATACLASS_REGISTRY.values(), *tasks.TASK_DATACLASS_REGISTRY.values()]
    dataclasses += [dc for r in registry.REGISTRIES.values() for dc in r["dataclass_registry"].values()]
    for dataclass in dataclasses:
        gen_parser_from_dataclass(fairseq, dataclass())
    fairseq_flags = option_strings(fairseq)[0]
    assert {"--ntxent-weight", "--ntxent-pooling", "--tlm-pairs", "--max-tokens", "--srcdict"} <= fairseq_flags
    for name in FAIRSEQ_COMMANDS:
        known[name] = (fairseq_flags, {})
    known["fairseq-hydra-train"] = (option_strings(get_args_parser())[0], {})
    known["torchrun"] = (option_strings(torchrun_parser())[0], {})
    return known


def command_lines(block):
    """Each command line of a bash block, continuation lines joined."""
    return re.sub(r"\\\n", " ", block).splitlines()


def flags_by_command(line, known):
    """(command, sub-command, flag) for every --flag of a line, credited to the known command it follows."""
    try:
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|()")
        lexer.whitespace_split = True
        tokens = list(lexer)
    except ValueError:
        return []
    found, command, sub, stack = [], None, None, []
    for i, token in enumerate(tokens):
        if token in SEPARATORS:
            command = sub = None
        elif token == "(":
            stack.append((command, sub))
            command = sub = None
        elif token == ")":
            inner = command
            command, sub = stack.pop() if stack else (None, None)
            if inner in known and tokens[i - 2 : i - 1] == ["which"]:
                command, sub = inner, None  # $(which fairseq-train): what follows is fairseq-train's
        elif os.path.basename(token) in known:
            command, sub = os.path.basename(token), None
        elif token == "--":
            command = None  # the rest is passed on to another program
        elif command is not None:
            if command in SUBCOMMANDS and sub is None and not token.startswith("-"):
                sub = token
            flag = token.strip("[]").split("=")[0]
            if re.fullmatch(r"--[a-z][\w-]*", flag):
                found.append((command, sub, flag))
    return found


def test_every_flag_in_the_docs_exists(known_options):
    checked, unknown = 0, []
    for page in pages():
        for block in code_blocks(read(page)):
            for line in command_lines(block):
                for command, sub, flag in flags_by_command(line, known_options):
                    flags, subparsers = known_options[command]
                    valid = flags | subparsers.get(sub, set())
                    checked += 1
                    if flag not in valid and flag not in ("--help",):
                        where = f"{command} {sub}" if sub else command
                        unknown.append(f"{os.path.relpath(page, ROOT)}: {where} has no {flag}: {line.strip()[:90]}")
    assert not unknown, "\n".join(unknown)
    assert checked > 150  # the docs' command lines were really read


def test_the_flag_check_catches_what_it_should(known_options):
    found = flags_by_command(
        "torchrun --nproc-per-node 2 $(which fairseq-train) data --ntxent-weight 1 && cxlm-import hf x --out y",
        known_options,
    )
    assert found == [
        ("torchrun", None, "--nproc-per-node"),
        ("fairseq-train", None, "--ntxent-weight"),
        ("cxlm-import", "hf", "--out"),
    ]
    flags, subparsers = known_options["cxlm-retrieval"]
    assert "--tatoeba" in flags and "--no-such-option" not in flags
    assert "--codes" in known_options["cxlm-import"][1]["xlm"]
    assert (
        slug("Mixed precision, activation checkpointing, resuming")
        == "mixed-precision-activation-checkpointing-resuming"
    )
    assert slug("What we do differently from the paper's code") == "what-we-do-differently-from-the-papers-code"
    assert slug("`cxlm-prepare` at CC-100's scale") == "cxlm-prepare-at-cc-100s-scale"
