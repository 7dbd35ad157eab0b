"""The README and docs/ stay true to the tree and the CLI.

- Every relative link in README.md and docs/*.md points to a file that exists, and a
  `#anchor` to a heading of that file (GitHub's heading slugs).
- Every `imgpipe <verb>` written as code (fenced blocks and `inline` spans) is a real
  subcommand, and every `--flag` given to it appears in that subcommand's `--help`;
  `make <target>` is a Makefile target, and `make run ARGS="..."` is checked as `imgpipe run ...`.
  The help is read from the real parser (`python -m pipeline VERB --help`), which imports no TFX.
- Every `python -m <module>` is a module of ours that exists, every repository path a command names
  (configs/, schemas/, bench/, docs/, tests/) exists, and a versioned path (the demo data's `demo-vN`)
  names the current version: the commands run as pasted.
- README.md is a front door: at most 200 lines, the details in docs/.
"""
import functools
import glob
import os
import re
import shlex
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = [os.path.join(REPO, "README.md")] + sorted(glob.glob(os.path.join(REPO, "docs", "*.md")))
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
INLINE = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
SEPARATORS = {"&&", "||", ";", "|", "&"}


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def rel(path):
    return os.path.relpath(path, REPO)


# ---------------------------------------------------------------------------- links

def slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|\[|\]\([^)]*\)", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(markdown):
    seen, result = {}, set()
    for line in FENCE.sub("", markdown).splitlines():
        match = re.match(r"#{1,6}\s+(.*)", line)
        if match:
            base = slug(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            result.add(base if count == 0 else f"{base}-{count}")
    return result


def link_problems(path, markdown):
    """Broken relative links of one markdown file, as readable lines."""
    problems = []
    prose = INLINE.sub("", FENCE.sub("", markdown))
    for target in LINK.findall(prose):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        dest = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
        if not os.path.exists(dest):
            problems.append(f"{rel(path)}: link {target} -> {rel(dest)} does not exist")
        elif anchor and dest.endswith(".md") and anchor not in anchors(read(dest)):
            problems.append(f"{rel(path)}: link {target}: no heading #{anchor} in {rel(dest)}")
    return problems


def test_slugs_follow_github():
    assert slug("Will my spec run? validate-spec and run-spec") == "will-my-spec-run-validate-spec-and-run-spec"
    assert slug("### `pipeline/`: wiring, running, the CLI (top layer)".lstrip("# ")) == \
        "pipeline-wiring-running-the-cli-top-layer"


def test_a_broken_link_and_a_broken_anchor_are_found(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n[ok](page.md#title) [gone](nowhere.md) [bad](page.md#nope) "
                    "[web](https://example.com/x.md) `[code](not-a-link.md)`\n")
    problems = link_problems(str(page), page.read_text())
    assert len(problems) == 2 and "nowhere.md" in problems[0] and "#nope" in problems[1]


@pytest.mark.parametrize("path", DOCS, ids=rel)
def test_relative_links_resolve(path):
    assert link_problems(path, read(path)) == []


def test_readme_links_every_docs_page():
    readme = read(os.path.join(REPO, "README.md"))
    linked = {os.path.normpath(os.path.join(REPO, t.partition("#")[0])) for t in LINK.findall(readme)}
    unlinked = [rel(p) for p in DOCS[1:] if p not in linked]
    assert not unlinked, f"README.md links no page for: {', '.join(unlinked)}"


# ---------------------------------------------------------------------------- commands

@functools.lru_cache(maxsize=None)
def cli_help(path):
    """The --help text of `imgpipe <path...>`."""
    result = subprocess.run([sys.executable, "-m", "pipeline", *path, "--help"],
                            capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def subcommands(path):
    """Sub-commands argparse lists (4-space indent under the positional arguments)."""
    section = cli_help(path).partition("positional arguments:")[2].split("\n\n")[0]
    return set(re.findall(r"^    ([a-z][\w-]*)", section, re.M))


def flags(path):
    """The options argparse lists (2-space indent), not flags quoted in descriptions or examples."""
    return set(re.findall(r"^  (?:-\w, )?(--[a-z][\w-]*)", cli_help(path), re.M))


def make_targets():
    return set(re.findall(r"^([a-z][\w-]*):", read(os.path.join(REPO, "Makefile")), re.M))


def shell_commands(code):
    """Token lists of the shell commands in a piece of code (continuations joined, comments dropped)."""
    for line in code.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        try:
            tokens = list(lexer)
        except ValueError:  # unbalanced quotes: not a shell line
            continue
        command = []
        for token in tokens + [";"]:
            if token in SEPARATORS:
                if command:
                    yield command
                command = []
            else:
                command.append(token)


def imgpipe_problems(args):
    """What in `imgpipe <args>` the real CLI does not have."""
    path, i = [], 0
    while i < len(args) and not args[i].startswith("-") and args[i] in subcommands(tuple(path)):
        path.append(args[i])
        i += 1
    if i < len(args) and not args[i].startswith("-") and not path:
        return [f"imgpipe {args[i]}: no such command (imgpipe --help lists {sorted(subcommands(()))})"]
    if not path:
        return []  # top-level flags (--help, --version) are not checked
    problems = []
    while i < len(args):
        flag = args[i].split("=")[0]
        if args[i].startswith("--") and flag not in flags(tuple(path)):
            problems.append(f"imgpipe {' '.join(path)}: no option {flag}")
        i += 2 if args[i] == "--beam-arg" else 1  # --beam-arg's value is Beam's flag, not ours
    return problems


REPO_DIRS = ("configs/", "schemas/", "bench/", "docs/", "tests/", "scripts/")


def module_problems(tokens):
    """`python -m X`: X must be a module of this repository (pipeline, bench, ...) or an installed one."""
    if "-m" not in tokens[:-1] or not os.path.basename(tokens[0]).startswith("python"):
        return []
    module = tokens[tokens.index("-m") + 1]
    if "<" in module or module.endswith("."):  # a placeholder: bench.<name>
        return []
    path = os.path.join(REPO, *module.split("."))
    ours = module.split(".")[0] in ("pipeline", "components", "schemas", "bench", "tests")
    exists = os.path.isfile(path + ".py") or os.path.isfile(os.path.join(path, "__main__.py"))
    return [f"python -m {module}: no such module in the repository"] if ours and not exists else []


def path_problems(tokens):
    """Repository paths given to a command (configs/example.yaml, bench/..., ...) must exist."""
    from pipeline.local.demo_data import DEMO_VERSION
    problems = []
    for token in tokens[1:]:
        for value in {token, token.split("=", 1)[-1]}:
            if value.startswith(REPO_DIRS) and "*" not in value and not os.path.exists(os.path.join(REPO, value)):
                problems.append(f"{value}: no such file in the repository")
        for version in re.findall(r"demo-v(\d+)", token):
            if int(version) != DEMO_VERSION:
                problems.append(f"{token}: the demo data is demo-v{DEMO_VERSION} now")
    return problems


def command_problems(code):
    problems = []
    for tokens in shell_commands(code):
        problems += module_problems(tokens) + path_problems(tokens)
        if tokens[0] == "make" and len(tokens) > 1:
            if tokens[1] not in make_targets():
                problems.append(f"make {tokens[1]}: no such Makefile target")
            args = [t[len("ARGS="):] for t in tokens[2:] if t.startswith("ARGS=")]
            if tokens[1] == "run" and args:
                problems += imgpipe_problems(["run", *shlex.split(args[0])])
        elif os.path.basename(tokens[0]) == "imgpipe":
            problems += imgpipe_problems(tokens[1:])
    return problems


def code_of(markdown):
    fenced = FENCE.findall(markdown)
    return fenced + INLINE.findall(FENCE.sub("", markdown))


def mentioned_verbs(markdown):
    return {tokens[1] for code in code_of(markdown) for tokens in shell_commands(code)
            if os.path.basename(tokens[0]) == "imgpipe" and len(tokens) > 1 and not tokens[1].startswith("-")}


def test_wrong_verbs_and_flags_are_found():
    code = ('.venv/bin/imgpipe frobnicate x\nimgpipe run --nope 1 && make nothing\n'
            'imgpipe compile --beam-arg --runner=X --target kfp \\\n  --image i\n'
            'make run ARGS="--data d --colour red"\nimgpipe --help\n--experiment imgpipe submit')
    assert command_problems(code) == [
        "imgpipe frobnicate: no such command (imgpipe --help lists "
        f"{sorted(subcommands(()))})",
        "imgpipe run: no option --nope", "make nothing: no such Makefile target",
        "imgpipe run: no option --colour"]


def test_stale_paths_and_modules_are_found():
    code = ("imgpipe predict ~/.cache/imgpipe/demo-v1/circle/x.png\n.venv/bin/python -m bench.nothing --x 1\n"
            "imgpipe run --config configs/missing.yaml\npython -m bench.suite --config=docs/absent.md")
    assert command_problems(code) == [
        "~/.cache/imgpipe/demo-v1/circle/x.png: the demo data is demo-v2 now", "python -m bench.nothing: no such "
        "module in the repository", "configs/missing.yaml: no such file in the repository",
        "docs/absent.md: no such file in the repository"]


def test_readme_is_a_front_door():
    lines = read(os.path.join(REPO, "README.md")).count("\n")
    assert lines <= 200, f"README.md has {lines} lines: move details to docs/ (at most 200)"


def test_readme_shows_the_main_commands():
    verbs = mentioned_verbs(read(os.path.join(REPO, "README.md")))
    assert {"run", "compile", "submit", "schedule", "validate-spec"} <= verbs, verbs


@pytest.mark.parametrize("path", DOCS, ids=rel)
def test_commands_use_real_verbs_and_flags(path):
    problems = [p for code in code_of(read(path)) for p in command_problems(code)]
    assert problems == [], f"{rel(path)}: " + "; ".join(problems)


# ---------------------------------------------------------------------------- exit codes

def test_readme_exit_code_table_lists_exactly_the_codes_of_exit_codes_py():
    """pipeline/exit_codes.py is the one place for the codes; the README's table must follow it."""
    import pipeline.exit_codes as exit_codes

    defined = {v for k, v in vars(exit_codes).items() if k.startswith("EXIT_")}
    section = read(os.path.join(REPO, "README.md")).partition("## Exit codes")[2].partition("\n## ")[0]
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", section, re.M)}
    assert defined and documented == defined, (documented, defined)
