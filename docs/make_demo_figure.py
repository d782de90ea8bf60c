"""Make docs/demo.png (content | style | result) from `make demo`'s outputs in out/.

make demo && .venv/bin/python docs/make_demo_figure.py
"""

from pathlib import Path

from PIL import Image

OUT = Path("out")
HEIGHT = 200
GAP = 6


def main() -> None:
    names = ["demo-chelsea.png", "demo-immunohistochemistry.png", "demo.png"]
    tiles = []
    for name in names:
        image = Image.open(OUT / name).convert("RGB")
        tiles.append(image.resize((round(image.width * HEIGHT / image.height), HEIGHT), Image.LANCZOS))
    sheet = Image.new("RGB", (sum(t.width for t in tiles) + GAP * (len(tiles) - 1), HEIGHT), "white")
    x = 0
    for tile in tiles:
        sheet.paste(tile, (x, 0))
        x += tile.width + GAP
    sheet.save(Path(__file__).with_name("demo.png"))


if __name__ == "__main__":
    main()
