"""The tree keeps the architecture docs/architecture.md draws, and that page names the tree both ways.

Layers, bottom to top: schemas -> components -> pipeline. A module may import its own
layer or a lower one, never a higher one, and no modules import each other in a
cycle. One DAG, two runners: the local runner and the Kubeflow package never import each other, and
Kubeflow code lives in pipeline/kubeflow/ alone. Every step folder has the same shape. Imports are
read with `ast` (nothing is imported, so this runs in a second), including the ones inside
functions: a lazy import is still a dependency.
"""
import ast
import os
import re

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAYERS = ("schemas", "components", "pipeline")  # bottom to top
ARCHITECTURE_DOC = os.path.join(REPO, "docs", "architecture.md")


def module_files():
    """{dotted module name: file path} for every .py file under the three packages."""
    modules = {}
    for package in LAYERS:
        for folder, _, files in os.walk(os.path.join(REPO, package)):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    parts = os.path.relpath(path, REPO)[:-3].split(os.sep)
                    if parts[-1] == "__init__":
                        parts = parts[:-1]
                    modules[".".join(parts)] = path
    return modules


MODULES = module_files()


def imported_modules(module, path):
    """The modules of ours that `module` imports: `from a import b` means a.b if that is a
    module, else a; every name resolves to its longest prefix that is a module file."""
    tree = ast.parse(open(path, encoding="utf-8").read(), filename=path)
    parts = module.split(".")
    if not path.endswith("__init__.py"):
        parts = parts[:-1]  # relative imports count from the module's package
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            anchor = parts[: len(parts) - node.level + 1] if node.level else []
            base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                names.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    ours = set()
    for name in names:
        prefix = name.split(".")
        while prefix and ".".join(prefix) not in MODULES:
            prefix.pop()
        if prefix and ".".join(prefix) != module:
            ours.add(".".join(prefix))
    return ours


IMPORTS = {module: imported_modules(module, path) for module, path in MODULES.items()}


def layer(module):
    return LAYERS.index(module.split(".")[0])


def test_the_three_layers_hold_modules():
    # Guards the walk itself: an empty tree would pass every check below.
    for package, expected in (("schemas", "schemas.config"), ("components", "components.trainer.train"),
                              ("pipeline", "pipeline.kubeflow.spec_run")):
        assert expected in MODULES, f"{expected} not found under {package}/"
    assert "schemas.config" in IMPORTS["pipeline.local.cli"]
    assert "components.trainer.backbones" in IMPORTS["components.trainer.train"]


def test_imports_are_read_inside_functions_and_relative(tmp_path):
    # A planted module of the components layer: a lazy upward import and a relative one.
    path = tmp_path / "planted.py"
    path.write_text("def f():\n    from pipeline.cli import main\n"
                    "from .model import build_model\nfrom . import serving\n")
    found = imported_modules("components.trainer.planted", str(path))
    assert found == {"pipeline.cli", "components.trainer.model", "components.trainer.serving"}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_a_higher_layer(module):
    upward = sorted(m for m in IMPORTS[module] if layer(m) > layer(module))
    assert not upward, (f"{MODULES[module]} ({LAYERS[layer(module)]}) imports {', '.join(upward)} "
                        f"from a higher layer; the layers are {' -> '.join(LAYERS)}, bottom first")


def test_schemas_import_nothing_of_ours_but_schemas():
    for module in (m for m in MODULES if layer(m) == 0):
        assert all(layer(m) == 0 for m in IMPORTS[module]), (module, IMPORTS[module])


def find_cycle(graph):
    """One import cycle as a list of modules (first == last), or None."""
    state = {}  # module -> "open" while on the stack, "done" after

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt, stack)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start, [])
            if cycle:
                return cycle
    return None


def test_find_cycle_finds_a_planted_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "d": {"a", "c"}}) is None


def test_no_import_cycle_between_modules():
    cycle = find_cycle(IMPORTS)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


# ---------------------------------------------------------------- docs/architecture.md matches the tree

CODE_SPAN = re.compile(r"`([^`\n]+)`")
DOTTED = re.compile(r"^(schemas|components|pipeline)(\.[A-Za-z_]\w*)+$")


def doc_spans():
    with open(ARCHITECTURE_DOC, encoding="utf-8") as f:
        text = f.read()
    return CODE_SPAN.findall(re.sub(r"```.*?```", "", text, flags=re.S))


def doc_paths():
    """Backticked repository paths: spans with a '/' (not URLs or <placeholders>) or ending in .py."""
    paths = []
    for span in doc_spans():
        if " " in span or "://" in span or "<" in span or "*" in span:
            continue
        if "/" in span or span.endswith(".py"):
            paths.append(span)
    return paths


def test_architecture_doc_names_paths():
    assert len(doc_paths()) >= 20, "docs/architecture.md should map the tree to paths"


@pytest.mark.parametrize("path", doc_paths())
def test_every_path_in_architecture_doc_exists(path):
    assert os.path.exists(os.path.join(REPO, path)), f"docs/architecture.md names `{path}`, which does not exist"


def top_level_names(path):
    tree = ast.parse(open(path, encoding="utf-8").read())
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


@pytest.mark.parametrize("dotted", [s for s in doc_spans() if DOTTED.match(s)])
def test_every_module_name_in_architecture_doc_exists(dotted):
    """`components.trainer.train.run_fn`: the longest module prefix exists and defines the rest."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        module = ".".join(parts[:cut])
        if module in MODULES:
            rest = parts[cut:]
            assert not rest or rest[0] in top_level_names(MODULES[module]), \
                f"docs/architecture.md names `{dotted}`: {module} defines no {rest[0]}"
            return
    pytest.fail(f"docs/architecture.md names `{dotted}`, which is no module of ours")


def test_every_module_is_named_in_the_architecture_doc():
    text = open(ARCHITECTURE_DOC, encoding="utf-8").read()
    unnamed = sorted(os.path.relpath(path, REPO) for module, path in MODULES.items()
                     if not path.endswith("__init__.py") and f"`{os.path.relpath(path, REPO)}`" not in text)
    assert not unnamed, f"docs/architecture.md does not name: {', '.join(unnamed)}"


# ---------------------------------------------------------------- one DAG, two runners, one shape per step

KUBEFLOW_PACKAGE = "pipeline.kubeflow"
RUNNERS = ("pipeline.local", KUBEFLOW_PACKAGE)
KUBEFLOW_LIBRARIES = ("kfp", "tfx.orchestration.kubeflow", "google.cloud.aiplatform")
MAX_LINES = 450


def third_party_imports(path):
    tree = ast.parse(open(path, encoding="utf-8").read())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_kubeflow_code_lives_in_the_kubeflow_package_only():
    outside = {module: sorted(n for n in third_party_imports(path) if n.startswith(KUBEFLOW_LIBRARIES))
               for module, path in MODULES.items() if not module.startswith(KUBEFLOW_PACKAGE)}
    assert not {m: n for m, n in outside.items() if n}, "Kubeflow/Vertex imports outside pipeline/kubeflow/"
    assert {"kfp.pipeline_spec", "tfx.orchestration.kubeflow.v2.container"} & {
        n for m, p in MODULES.items() if m.startswith(KUBEFLOW_PACKAGE) for n in third_party_imports(p)}


def test_the_two_runners_never_import_each_other():
    for module, imported in IMPORTS.items():
        for runner in RUNNERS:
            if module.startswith(runner):
                other = next(r for r in RUNNERS if r != runner)
                assert not [m for m in imported if m.startswith(other)], f"{module} imports {other}"


def step_folders():
    root = os.path.join(REPO, "components")
    return sorted(name for name in os.listdir(root) if os.path.isfile(os.path.join(root, name, "__init__.py")))


@pytest.mark.parametrize("step", step_folders())
def test_every_step_folder_has_a_spec_and_one_factory(step):
    folder = os.path.join(REPO, "components", step)
    assert os.path.isfile(os.path.join(folder, "spec.py")), f"components/{step}/ has no spec.py"
    factories = factory_of(os.path.join(folder, "component.py"))
    assert len(factories) == 1, f"components/{step}/component.py defines {factories}: one create_<step> factory"
    spec = third_party_imports(os.path.join(folder, "spec.py"))
    assert not [n for n in spec if n.split(".")[0] in ("tfx", "tensorflow", "apache_beam")], \
        f"components/{step}/spec.py must stay light (no TFX, TensorFlow or Beam): {sorted(spec)}"


def factory_of(path):
    tree = ast.parse(open(path, encoding="utf-8").read())
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("create_")]


def test_every_step_of_the_dag_is_one_factory_call():
    tree = ast.parse(open(MODULES["pipeline.pipeline"], encoding="utf-8").read())
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    steps = [os.path.join(REPO, "components", s, "component.py") for s in step_folders()]
    steps += [MODULES["pipeline.history.report.component"], MODULES["pipeline.history.model_card.component"]]
    factories = {name for path in steps for name in factory_of(path)}
    assert len(factories) == len(steps) and factories <= called, sorted(factories - called)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_file_is_over_450_lines(module):
    with open(MODULES[module], encoding="utf-8") as f:
        lines = sum(1 for _ in f)
    assert lines <= MAX_LINES, f"{MODULES[module]} has {lines} lines (at most {MAX_LINES}): split it by what it does"
