"""`painterly reproduce` at a tiny size: all five sheets, the gallery, resuming, bad inputs."""

from __future__ import annotations

import re

from PIL import Image

from conftest import artwork_like, photo_like
from painterly.frontends import cli
from painterly.media import images

RENDERS = 2 + 19 + 1 + 5 + 1  # Fig. 3 (2 artworks), 4, 5, 6, 7 without the tiles they share


def make_inputs(directory):
    directory.mkdir()
    photo_like(64, 48).save(directory / "photo.png")
    photo_like(48, 64).transpose(Image.Transpose.ROTATE_90).save(directory / "photo-look.png")
    artwork_like(seed=1).save(directory / "art-a.png")
    artwork_like(seed=2).rotate(90).save(directory / "art-b.png")
    return directory


def test_reproduce_makes_every_sheet_and_the_gallery(tmp_path, capsys):
    inputs, out = make_inputs(tmp_path / "in"), tmp_path / "out"
    argv = ["reproduce", "--images", str(inputs), "--out", str(out), "--size", "48", "--iterations", "3"]
    assert cli.main(argv) == 0
    err = capsys.readouterr().err
    assert f"[{RENDERS}/{RENDERS}]" in err and "reused" not in err
    tiles = sorted((out / "tiles").glob("*.png"))
    assert len(tiles) == RENDERS
    assert all(max(Image.open(t).size) == 48 for t in tiles)
    for number, columns in [(3, 3), (4, 4), (5, 3), (6, 3), (7, 3)]:
        sheet = Image.open(out / f"fig{number}.png")
        assert sheet.width >= columns * 48 and images.read_metadata(out / f"fig{number}.png")["figure"] == str(number)
    page = (out / "index.html").read_text()
    assert page.count("<img class='sheet'") == 5
    assert len(re.findall(r"<td class='n'>\d(\.\d+)?e[+-]\d+</td>", page)) >= 2 * (2 + 20 + 2 + 6 + 1)
    assert "conv1_1..conv3_1" in page and "init: noise, seed 3" in page and "photo-look" in page
    # Fig. 4's ratio columns differ: more content weight keeps the output closer to the photo.
    rels = [float(x) for x in re.findall(r"<td class='n'>(\d\.\d{3})</td>", page)]
    assert len(set(rels)) > 10

    # A second run (e.g. after Ctrl-C) renders nothing again and gives the same tiles.
    before = {t.name: t.read_bytes() for t in tiles}
    assert cli.main(argv + ["--figures", "4,6"]) == 0
    err = capsys.readouterr().err
    assert err.count("reused") == 20 + 6 - 1  # Fig. 6 seed 0 is a cell of Fig. 4
    assert {t.name: t.read_bytes() for t in (out / "tiles").glob("*.png")} == before


def test_reproduce_refuses_a_directory_without_a_photograph(tmp_path, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    artwork_like().save(inputs / "art.png")
    assert cli.main(["reproduce", "--images", str(inputs), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "no photograph" in err
    assert not (tmp_path / "out").exists()


def test_reproduce_reports_a_bad_input_before_any_work(tmp_path, capsys):
    inputs = make_inputs(tmp_path / "in")
    (inputs / "art-c.jpg").write_bytes(b"not a jpeg")
    code = cli.main(["reproduce", "--images", str(inputs), "--out", str(tmp_path / "out"), "--size", "48"])
    err = capsys.readouterr().err
    assert code == 2 and "art-c.jpg" in err and not list((tmp_path / "out").glob("tiles/*"))


def test_reproduce_writes_only_the_figures_asked_for(tmp_path):
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    photo_like(64, 48).save(inputs / "photo.png")  # one photograph: Fig. 7 would need scikit-image's
    artwork_like().save(inputs / "art.png")
    argv = ["reproduce", "--images", str(inputs), "--out", str(out), "--size", "48", "--iterations", "3", "-q"]
    assert cli.main([*argv, "--figures", "3"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["fig3.png", "index.html", "tiles"]
    assert len(list((out / "tiles").glob("*.png"))) == 1
