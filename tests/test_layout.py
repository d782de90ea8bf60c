"""The house plan: every option declared once and reachable, one alpha/beta conversion, the plan's
effective settings recorded, inputs decoded once, small modules, a core that never prints, and
floors whose imports only go down (front doors -> jobs -> core -> media), without circles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from PIL import Image

from painterly.core.declare import Control
from painterly.core.options import FIELD_SPECS, Options
from painterly.core.presets import with_preset
from painterly.frontends.cli import batch, flags, main, render, video
from painterly.frontends.reproduce import figures, tiles
from painterly.media import images

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "painterly"


def test_every_option_has_a_flag_or_a_web_control_or_is_marked_internal():
    parsers = [render.parser(), batch.parser(), video.parser()]  # each lists the options it reads
    cli_flags = {s for p in parsers for a in p._actions for s in a.option_strings}
    unreachable = [s.name for s in FIELD_SPECS if not (s.internal or s.flag in cli_flags or isinstance(s.web, Control))]
    assert unreachable == [], f"declare these with option(...) in options.py: {unreachable}"


def test_every_web_control_is_on_the_page():
    pytest.importorskip("gradio")
    from painterly.frontends import web

    declared = [s.key for s in FIELD_SPECS if isinstance(s.web, Control)]
    assert set(declared) <= set(web.CONTROLS) and "ratio" in web.CONTROLS


def test_photoreal_preset_and_the_fig7_tile_weigh_the_losses_alike():
    preset = with_preset("photoreal")
    tile = figures.figure7(Path("photo.png"), Path("look.png")).tiles[-1]
    rendered = tiles.tile_options(Options(), tile)
    for name in ("content_weight", "style_weight", "tv_weight", "photo_weight", "init"):
        assert getattr(rendered, name) == getattr(preset, name), name
    cli = flags.options_from(render.parser().parse_args(["c", "s", "-o", "o.png", "--preset", "photoreal"]))
    assert (cli.content_weight, cli.style_weight, cli.tv_weight, cli.photo_weight) == (1.0, 100.0, 1.0, 1e8)


def test_metadata_records_the_size_rendered_after_auto_size(tmp_path, content_path, style_path):
    out = tmp_path / "out.png"
    argv = [str(content_path), str(style_path), "-o", str(out), "--size", "1024", "--iterations", "1", "-q"]
    assert main([*argv, "--max-memory", "650M", "--precision", "fp32", "--auto-size"]) == 0  # ~230 px
    rendered = max(Image.open(out).size)
    assert rendered < 1024 and images.read_metadata(out)["size"] == str(rendered)


def test_the_content_file_is_decoded_once_per_run(tmp_path, content_path, style_path, monkeypatch):
    real_load, loaded = images.load, []

    def counting_load(source, *args, **kwargs):
        loaded.append(str(source))
        return real_load(source, *args, **kwargs)

    monkeypatch.setattr(images, "load", counting_load)
    argv = [str(content_path), str(style_path), "-o", str(tmp_path / "o.png"), "--size", "0", "--iterations", "2"]
    assert main([*argv, "--init", "content", "-q"]) == 0
    assert loaded.count(str(content_path)) == 1 and loaded.count(str(style_path)) == 1


def _functions(tree: ast.AST):
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_and_functions_stay_small(path):
    text = path.read_text()
    assert len(text.splitlines()) <= 400, "split the module"
    lengths = {f.name: f.end_lineno - f.lineno + 1 for f in _functions(ast.parse(text))}
    assert {name: n for name, n in lengths.items() if n > 60} == {}, "split the function"


CORE = sorted(p for p in PACKAGE.rglob("*.py") if "frontends" not in p.parts and p.name != "__main__.py")


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_core_never_prints_parses_argv_or_imports_a_front_door(path):
    tree = ast.parse(path.read_text())
    calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    imported = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert "print" not in calls
    assert not any(m == "argparse" or "frontends" in m or m in ("gradio", "sys") for m in imported)


# The floors, bottom up; a module may import its own floor and the ones below. The public API
# (`api`, the package's `__init__`) is a front door like the CLI and the web UI.
FLOORS = {"errors": 0, "version": 0, "media": 1, "core": 2, "jobs": 3, "api": 4, "__init__": 4, "__main__": 4}
FLOORS["frontends"] = 4


def _name(path: Path) -> str:
    """painterly.core.plan for src/painterly/core/plan.py; painterly for the package's __init__."""
    parts = ["painterly", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(p): p for p in PACKAGE.rglob("*.py")}


def _floor(module: str) -> int:
    parts = module.split(".")
    return FLOORS[parts[1] if len(parts) > 1 else "__init__"]


def _imports(module: str) -> set[str]:
    """The package's modules that `module` imports, wherever the import stands (lazy ones too)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            source = ".".join([*base, node.module] if node.module else base)
            found |= {f"{source}.{a.name}" if f"{source}.{a.name}" in MODULES else source for a in node.names}
    return {m for m in found if m in MODULES and m != module}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down_the_floors_never_up(module):
    up = sorted(m for m in _imports(module) if _floor(m) > _floor(module))
    assert up == [], f"{module} (floor {_floor(module)}) imports from a floor above: {up}"


def test_no_module_imports_itself_in_a_circle():
    graph = {m: _imports(m) for m in MODULES}
    done: set[str] = set()

    def visit(m: str, path: list[str]) -> None:
        if m in path:
            circle = " -> ".join(path[path.index(m) :] + [m])
            raise AssertionError(f"import circle: {circle}")
        if m in done:
            return
        for n in sorted(graph[m]):
            visit(n, [*path, m])
        done.add(m)

    for m in sorted(graph):
        visit(m, [])


MAX_POSITIONAL = 6  # arguments a call in core/ passes by position; past that, two swapped values fail silently


def crowded_calls(source: str) -> list[str]:
    """The calls in `source` that pass more than MAX_POSITIONAL arguments by position: 'line: callee'."""
    return [
        f"{node.lineno}: {ast.unparse(node.func)}"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and sum(not isinstance(a, ast.Starred) for a in node.args) > MAX_POSITIONAL
    ]


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_call_in_the_core_passes_more_than_six_arguments_by_position(path):
    assert crowded_calls(path.read_text()) == [], "pass them by name (keyword-only parameters)"


def test_the_positional_rule_catches_a_planted_seven_argument_call():
    planted = (PACKAGE / "core" / "render.py").read_text() + "\nbuild(a, b, c, d, e, f, g)\n"
    assert crowded_calls(planted) == [f"{len(planted.splitlines())}: build"]
    assert crowded_calls("build(a, b, c, d, e, f, g=7)\n") == []
