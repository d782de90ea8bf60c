"""Make docs/fig4-samples.png: `painterly reproduce`'s Fig. 4 from images the project may ship.

    .venv/bin/python docs/make_paper_figure.py [--size 128] [--iterations 150]

The photograph is scikit-image's cat, the "artwork" its immunohistochemistry micrograph (the
paper's own images are not ours to ship).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from painterly.frontends import cli
from painterly.media import samples


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--iterations", type=int, default=150)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        inputs, out = Path(tmp) / "in", Path(tmp) / "out"
        inputs.mkdir()
        samples.photo("chelsea").save(inputs / "photo-chelsea.png")
        samples.photo("immunohistochemistry").save(inputs / "micrograph.png")
        argv = ["--images", str(inputs), "--out", str(out), "--figures", "4"]
        code = cli.main(["reproduce", *argv, "--size", str(args.size), "--iterations", str(args.iterations)])
        if code == 0:
            shutil.copyfile(out / "fig4.png", Path(__file__).with_name("fig4-samples.png"))
    return code


if __name__ == "__main__":
    sys.exit(main())
