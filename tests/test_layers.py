"""The shape of the code: imports go one way (no import circle in studio/, counting imports inside functions),
nothing outside studio/tasks/ tests a task's name, nothing outside studio/tasks/ and the format modules tests a data
format's name, the page and the CLI never test a try tab's name, and the run store and the scheduler never test a
launcher's kind."""

import ast
import re
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "studio"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_package(name: str) -> bool:
    return (PKG.parent / name.replace(".", "/") / "__init__.py").exists()


def exists(name: str) -> bool:
    return is_package(name) or (PKG.parent / (name.replace(".", "/") + ".py")).exists()


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in PKG.rglob("*.py"):
        me = module_name(path)
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):  # every import, in functions too
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names if a.name.startswith("studio")}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    pkg = me if is_package(me) else me.rsplit(".", 1)[0]
                    pkg = ".".join(pkg.split(".")[: len(pkg.split(".")) - node.level + 1])
                    base = f"{pkg}.{base}" if base else pkg
                if not base.startswith("studio"):
                    continue
                for a in node.names:
                    targets.add(f"{base}.{a.name}" if exists(f"{base}.{a.name}") else base)
        edges = set()
        for t in targets:
            while t and exists(t):  # importing a.b.c runs a.b's __init__ too, unless we are inside a.b already
                if t != me and not me.startswith(t + "."):
                    edges.add(t)
                t = t.rsplit(".", 1)[0] if "." in t else ""
        graph[me] = edges
    # the registry imports every task package it finds (importlib), so it depends on them
    for sub in (PKG / "tasks").iterdir():
        if (sub / "__init__.py").exists():
            graph["studio.tasks"].add(f"studio.tasks.{sub.name}")
    for mod in (PKG / "launchers").glob("*.py"):  # and the launcher registry every launcher module
        if mod.stem not in ("__init__", "base"):
            graph["studio.launchers"].add(f"studio.launchers.{mod.stem}")
    from studio.data.formats.registry import NOT_FORMATS

    for mod in (PKG / "data" / "formats").glob("*.py"):  # and the format registry every format module
        if mod.stem != "__init__" and mod.stem not in NOT_FORMATS:
            graph["studio.data.formats.registry"].add(f"studio.data.formats.{mod.stem}")
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def test_no_import_circle_in_studio():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_a_circle_through_a_function_level_import(tmp_path):
    graph = import_graph()
    graph["studio.core.setup"] = graph["studio.core.setup"] | {"studio.engine.train"}  # as if setup imported the trainer
    cycle = find_cycle(graph)
    assert cycle and "studio.engine.train" in cycle and "studio.core.setup" in cycle


# What each package may import (besides itself), top layer last. Each package's __init__ docstring says the same.
MAY_IMPORT = {
    "core": {"data"},
    "data": {"core"},
    "tasks": {"core", "data"},
    "engine": {"tasks", "core", "data"},
    "export": {"engine", "tasks", "core", "data"},
    "launchers": {"engine", "core"},
    "server": {"launchers", "tasks", "core", "data"},
    "serve": {"tasks", "core"},
    "ui": {"serve", "server", "launchers", "engine", "export", "tasks", "core", "data"},
    "cli": {"ui", "serve", "server", "launchers", "export", "engine", "tasks", "core", "data"},
}


# The one exception: a task's try panel (``studio/tasks/<name>/panel.py``, named by ``Task.try_panel``) is page code
# that lives with its task. It sits in the ui layer (it may import studio.ui and what the ui may), and only the page
# loads it, by name (importlib): no module imports it, so the task, the engine and the CLI never load Gradio through it.
PANEL = re.compile(r"studio\.tasks\.\w+\.panel")


def package_of(module: str) -> str:
    if PANEL.fullmatch(module):
        return "ui"
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for mod, deps in graph.items():
        pkg = package_of(mod)
        for dep in deps:
            other = package_of(dep)
            if pkg in MAY_IMPORT and other and other != pkg and other not in MAY_IMPORT[pkg]:
                bad.append(f"{mod} imports {dep}")
    return sorted(bad)


def test_packages_import_only_downward():
    bad = layer_violations(import_graph())
    assert not bad, "imports against the layers (see MAY_IMPORT):\n" + "\n".join(bad)


def test_every_package_is_placed_and_the_top_level_is_small():
    packages = {p.name for p in PKG.iterdir() if (p / "__init__.py").exists()}
    assert packages == set(MAY_IMPORT), "a new package needs its place in MAY_IMPORT and a docstring saying it"
    modules = sorted(p.name for p in PKG.glob("*.py"))
    assert len(modules) <= 6, f"studio/ holds {modules}: put a module in the package it belongs to"


def test_the_layer_check_sees_an_upward_import():
    graph = import_graph()
    graph["studio.core.splits"] = graph["studio.core.splits"] | {"studio.server.runs"}
    graph["studio.tasks.chat.setup"] = graph["studio.tasks.chat.setup"] | {"studio.engine.train"}
    graph["studio.tasks.chat.views"] = graph["studio.tasks.chat.views"] | {"studio.ui.common"}  # not a panel
    assert layer_violations(graph) == ["studio.core.splits imports studio.server.runs",
                                       "studio.tasks.chat.setup imports studio.engine.train",
                                       "studio.tasks.chat.views imports studio.ui.common"]


def test_try_panels_are_page_code_that_only_the_page_loads():
    graph = import_graph()
    panels = sorted(m for m in graph if PANEL.fullmatch(m))
    assert "studio.tasks.classification.panel" in panels
    importers = sorted(f"{mod} imports {dep}" for mod, deps in graph.items() for dep in deps if dep in panels)
    assert not importers, "load a try panel by its name (studio.ui.panels), never import it:\n" + "\n".join(importers)
    for name in panels:
        text = (PKG.parent / (name.replace(".", "/") + ".py")).read_text(encoding="utf-8")
        assert not re.search(r"^\s*(import torch|from torch)", text, re.M), f"{name} imports torch"


TASK_NAME_TEST = re.compile(r"""task(?![\w.]*try_tab)[\w.\[\]()"']*\s*(==|!=|\bin\b)\s*\(?\s*["'](chat|classification)["']"""
                            r"""|["'](chat|classification)["']\s*(==|!=)\s*[\w.]*task""")


def test_the_name_check_sees_the_usual_spellings():
    for code in ('if config.task == "chat":', "if info.task != 'classification':", 'if result.get("task") == "chat"',
                 'if task in ("chat", "x"):', 'if "classification" == cfg.task:'):
        assert TASK_NAME_TEST.search(code), code
    assert not TASK_NAME_TEST.search('if try_tab == "chat":')  # a tab id, not a task


def test_nothing_outside_tasks_branches_on_a_task_name():
    offenders = []
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG).as_posix()
        if rel.startswith("tasks/"):
            continue
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if TASK_NAME_TEST.search(code):
                offenders.append(f"{rel}:{i}: {line.strip()}")
    assert not offenders, "branching on a task's name outside studio/tasks:\n" + "\n".join(offenders)


def tab_comparisons(source: str, tab_names) -> list[int]:
    """Lines of ``source`` that compare with a try tab's or panel's name (``try_tab == "chat"``, ``x != "classify"``)
    or compare a ``try_tab``/``try_panel`` with a string: the page asks the task's panel (``studio.ui.panels``)."""
    def named(node) -> bool:
        if isinstance(node, ast.Constant):
            return node.value in tab_names
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return any(named(e) for e in node.elts)
        return False

    def tab_attr(node) -> bool:
        name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""
        return name in ("try_tab", "try_panel")

    def string(node) -> bool:
        return isinstance(node, ast.Constant) and isinstance(node.value, str)

    lines = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(named(n) for n in sides) or (any(tab_attr(n) for n in sides) and any(string(n) for n in sides)):
                lines.add(node.lineno)
    return sorted(lines)


def try_tab_names() -> set[str]:
    """The names a tab test would compare with: each installed task's panel module, its tab id, and the old tab ids."""
    import importlib

    from studio import tasks

    names = {"chat", "classify"}
    for task in tasks.all_tasks():
        names.add(task.try_panel)
        names.add(getattr(importlib.import_module(task.try_panel), "TAB_ID", ""))
    return names - {""}


def test_the_tab_check_sees_the_usual_spellings():
    names = try_tab_names()
    assert {"chat", "classify", "studio.tasks.classification.panel"} <= names
    for code in ('if try_tab == "chat": pass', 'if task.try_tab != "classify": pass', 'x = tab in ("chat", "x")',
                 'x = "classify" == where', 'x = task.try_panel == "studio.tasks.classification.panel"',
                 'x = t.try_tab == "grpo_compare"'):
        assert tab_comparisons(code, names) == [1], code
    assert not tab_comparisons('x = task.try_panel == __name__\ny = {"chat": 1}\nz = f(tab="chat")', names)


def test_the_page_and_the_cli_never_branch_on_a_try_tab():
    names = try_tab_names()
    offenders = [f"{path.relative_to(PKG).as_posix()}:{line}" for folder in ("ui", "cli", "serve")
                 for path in sorted((PKG / folder).rglob("*.py"))
                 for line in tab_comparisons(path.read_text(encoding="utf-8"), names)]
    assert not offenders, ("ask the run's task for its panel (studio.ui.panels) or what it does (Task.chats) "
                           "instead of testing a tab's name:\n" + "\n".join(offenders))


def kind_comparisons(source: str, kinds) -> list[int]:
    """Lines of ``source`` that compare something with a launcher kind string (==, !=, in, not in; a kind alone or
    among others in a tuple, list or set)."""
    def kind_strings(node) -> bool:
        if isinstance(node, ast.Constant):
            return node.value in kinds
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return any(kind_strings(e) for e in node.elts)
        return False

    return sorted({node.lineno for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Compare)
                   and any(kind_strings(n) for n in [node.left, *node.comparators])})


def test_the_kind_check_sees_the_usual_spellings():
    kinds = ("local", "inline", "ray")
    for code in ('if handle["kind"] == "inline": pass', 'x = kind != "local"', 'x = kind in ("local", "ray")',
                 'x = "ray" == handle.get("kind")', 'x = kind not in {"inline"}'):
        assert kind_comparisons(code, kinds) == [1], code
    assert not kind_comparisons('x = handle.get("kind") or default\ny = {"inline": 1}', kinds)


def test_the_run_store_and_scheduler_never_branch_on_a_launcher_kind():
    from studio import launchers

    kinds = set(launchers.kinds())
    assert {"local", "inline", "ray"} <= kinds
    offenders = [f"{name}:{line}" for name in ("server/runs.py", "server/scheduler.py")
                 for line in kind_comparisons((PKG / name).read_text(encoding="utf-8"), kinds)]
    assert not offenders, "ask the launcher (studio/launchers/base.py) instead of testing its kind:\n" + "\n".join(offenders)


def test_tabs_reach_runs_only_through_the_person_asking():
    """On a shared studio every handler must see the runs as the signed-in person does (``ctx.runs(request)``);
    the app's whole store is for app.py and the admin-checked Admin tab only."""
    ui = Path(__file__).resolve().parents[1] / "studio" / "ui"
    offenders = []
    for path in sorted(ui.glob("*.py")):
        if path.name in ("app.py", "admin_tab.py"):
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if ("ctx.store" in line and "ctx.store.devices" not in line) or "ctx.data_dir" in line:
                offenders.append(f"{path.name}:{n}: {line.strip()}")
    assert not offenders, "use ctx.runs(request) instead:\n" + "\n".join(offenders)


def test_icons_need_no_emoji_font():
    """The page's icons are plain text symbols (in DejaVu and most fonts): a machine without an emoji font (a headless
    browser, many Linux desktops) shows them instead of empty boxes."""
    emoji = re.compile("[\U0001F000-\U0001FAFF\uFE0F\u2705\u23F3\u23F9\u23F8\u23FA\u231B\u274C\u2728]")
    root = Path(__file__).resolve().parents[1] / "studio"
    shown = [p for p in sorted(root.rglob("*.py")) if "formats" not in p.parts]  # formats/ reads people's emoji
    found = [f"{p.relative_to(root)}:{n}: {m.group()!r}" for p in shown
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) for m in emoji.finditer(line)]
    assert not found, "\n".join(found)


FORMAT_SIDE = re.compile(r"fmt|format", re.IGNORECASE)


def format_name_tests(source: str, names) -> list[int]:
    """Lines of ``source`` that test a data format's name: a comparison (==, !=, in, not in, a name alone or among
    others in a tuple, list or set) or a ``match`` between something named like a format (``ds.format``, ``fmt``,
    ``rec["format"]``) and a format's name, or a table keyed by format names looked up with a format."""
    def has_name(node) -> bool:
        if isinstance(node, ast.Constant):
            return node.value in names
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return any(has_name(e) for e in node.elts)
        return False

    def formatish(node) -> bool:
        return bool(FORMAT_SIDE.search(ast.unparse(node)))

    lines = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(has_name(s) for s in sides) and any(formatish(s) for s in sides if not has_name(s)):
                lines.add(node.lineno)
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Dict) and formatish(node.slice):
            if any(has_name(k) for k in node.value.keys if k is not None):
                lines.add(node.lineno)
        elif isinstance(node, ast.Match) and formatish(node.subject):
            if any(isinstance(c.pattern, ast.MatchValue) and has_name(c.pattern.value) for c in node.cases):
                lines.add(node.lineno)
    return sorted(lines)


def format_modules() -> set[str]:
    """The format plug-ins' own modules (files of studio/data/formats that expose ``FORMAT``) and their contract."""
    folder = PKG / "data" / "formats"
    return {p.relative_to(PKG).as_posix() for p in folder.glob("*.py")
            if p.name == "base.py" or re.search(r"^FORMAT\s*=", p.read_text(encoding="utf-8"), re.MULTILINE)}


def test_the_format_check_sees_the_usual_spellings():
    names = ("chat", "text", "classification", "preference")
    for code in ('if ds.format == "preference": pass', "x = fmt != 'text'", 'x = ds.format in ("text", "classification")',
                 'x = "classification" == self.format', 'x = fmt not in {"chat"}', 'x = rec.get("format") == "chat"',
                 'x = {"chat": 1, "text": 2}[ds.format]', 'match fmt:\n    case "text": pass'):
        assert format_name_tests(code, names) == [1], code
    for code in ('if try_tab == "chat": pass', 'x = part.get("type") != "text"', 'x = {"chat": 1}[kind]',
                 'x = fmt.labels', 'x = ds.format in FORMATS'):
        assert not format_name_tests(code, names), code


def test_nothing_outside_tasks_and_the_format_modules_tests_a_format_name():
    from studio.data import formats

    names = set(formats.names())
    assert {"chat", "sharegpt", "alpaca", "prompt_completion", "text", "classification", "preference",
            "feedback"} <= names
    own = format_modules()
    assert {"data/formats/chat.py", "data/formats/feedback.py", "data/formats/base.py"} <= own
    offenders = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG).as_posix()
        if rel.startswith("tasks/") or rel in own:
            continue
        offenders += [f"{rel}:{line}" for line in format_name_tests(path.read_text(encoding="utf-8"), names)]
    assert not offenders, ("ask the format (studio/data/formats/base.py: its flags and methods) instead of testing "
                           "its name:\n" + "\n".join(offenders))
