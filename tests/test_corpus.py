"""Every file of the hostile-input corpus through the real CLI: it works with the right pixels,
or it fails with one line naming the file and the reason, exit code 2, and nothing written."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from hostile_corpus import BLUE, build
from painterly.frontends import cli
from painterly.media import images


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    directory = tmp_path_factory.mktemp("corpus")
    style = directory / "style.png"
    Image.new("RGB", (32, 32), BLUE).save(style)
    return {case.name: case for case in build(directory)}, style


def case_names() -> list[str]:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        return [case.name for case in build(d)]


NAMES = case_names()


def test_corpus_is_large_enough():
    assert len(NAMES) >= 30


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    code = cli.main([*argv, "--size", "32", "--iterations", "1", "-q"])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("name", NAMES)
def test_corpus_file_as_content(corpus, tmp_path, capsys, name):
    cases, style = corpus
    case = cases[name]
    out = tmp_path / "out.png"
    code, err = run_cli(capsys, str(case.path), str(style), "-o", str(out))
    if case.must_work:
        assert code == 0, err
        case.check(np.asarray(images.load(case.path)))
        result = Image.open(out)
        assert max(result.size) == 32 and images.read_metadata(out)["content"] == case.path.name
    else:
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1, err
        assert lines[0].startswith("painterly: error: content image ") and str(case.path) in lines[0]
        assert case.reason in lines[0], lines[0]
        assert list(tmp_path.iterdir()) == [], "a failed run left files behind"


@pytest.mark.parametrize("name", [n for n in NAMES if n.endswith((".svg", "empty.jpg", "1x10000.png", "link.jpg"))])
def test_corpus_file_as_style_names_the_style(corpus, tmp_path, capsys, name):
    cases, style = corpus
    code, err = run_cli(capsys, str(style), str(cases[name].path), "-o", str(tmp_path / "out.png"))
    assert code == 2 and err.startswith("painterly: error: style image ") and cases[name].reason in err
    assert list(tmp_path.iterdir()) == []
