"""Installing and the Makefile's verbs: what a new user's first commands do (read from the files, no network)."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def _requirement(name: str, requirements: list[str]) -> Requirement:
    return next(r for r in map(Requirement, requirements) if r.name.lower() == name)


def test_the_web_extra_never_moves_the_base_installs_pillow():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = _requirement("pillow", project["dependencies"]).specifier
    assert _requirement("torch", project["dependencies"]).specifier == ">=2.2"  # open: the Makefile pins it
    assert _requirement("gradio", project["optional-dependencies"]["web"]).specifier.contains("6.31.0")
    try:
        web = _requirement("pillow", importlib.metadata.requires("gradio")).specifier
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("gradio (the web extra) is not installed")
    versions = [f"{major}.{minor}.0" for major in range(10, 16) for minor in range(4)]
    assert [v for v in versions if base.contains(v) and not web.contains(v)] == []


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_make_demo_renders_once_and_again_only_when_the_package_changes(tmp_path):
    shutil.copy(ROOT / "Makefile", tmp_path)
    files = ["pyproject.toml", "src/painterly/render.py", ".venv/.base", "out/demo.png"]
    for age, name in enumerate(files):  # oldest first, as after `make demo`
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).touch()
        os.utime(tmp_path / name, (1_000_000 + age, 1_000_000 + age))

    def dry_run() -> str:
        return subprocess.run(["make", "-n", "demo"], cwd=tmp_path, capture_output=True, text=True, check=True).stdout

    assert "painterly demo" not in dry_run()  # finished: nothing to do
    os.utime(tmp_path / "src/painterly/render.py")  # the code changed: render again, without reinstalling
    again = dry_run()
    assert "painterly demo" in again and "pip install" not in again
    shutil.rmtree(tmp_path / ".venv")
    shutil.rmtree(tmp_path / "out")
    fresh = dry_run()  # a fresh machine: install, then render
    assert "-m venv" in fresh and "torch==" in fresh and "painterly demo -o out/demo.png" in fresh
