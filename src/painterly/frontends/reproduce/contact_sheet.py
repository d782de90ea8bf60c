"""Labelled contact sheets (Pillow): a title, optional row and column labels, and a grid of
images with a caption under each. Sizes are in pixels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

MARGIN = 12
GAP = 8
TITLE_PT = 18
LABEL_PT = 13
CAPTION_PT = 11
INSET = 0.28  # the style image, inset in a render's corner as in the paper, at this fraction of its width
BACKGROUND = (255, 255, 255)
INK = (20, 20, 20)
FAINT = (90, 90, 90)


@dataclass
class Cell:
    image: Image.Image
    lines: Sequence[str]  # caption lines under the image
    inset: Image.Image | None = None


def _font(points: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=points)


def _fit(image: Image.Image, box: tuple[int, int]) -> Image.Image:
    """`image` scaled to fit inside `box` (W, H), aspect kept."""
    scale = min(box[0] / image.width, box[1] / image.height)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.convert("RGB").resize(size, Image.LANCZOS)


def _text_width(draw: ImageDraw.ImageDraw, text: str, font) -> int:
    return round(draw.textlength(text, font=font))


def _wrap(draw: ImageDraw.ImageDraw, text: str, width: int) -> list[str]:
    """`text` broken into lines of at most `width` px at the caption size."""
    lines: list[str] = []
    for word in text.split():
        if lines and _text_width(draw, f"{lines[-1]} {word}", _font(CAPTION_PT)) <= width:
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    return lines


def sheet(
    title: str,
    cells: Sequence[Cell],
    columns: int,
    cell_size: tuple[int, int],
    column_labels: Sequence[str] = (),
    row_labels: Sequence[str] = (),
    subtitle: str = "",
) -> Image.Image:
    """One RGB image: `cells` laid out row by row, `columns` wide, each image fitted to `cell_size`."""
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    caption_lines = max((len(c.lines) for c in cells), default=0)
    caption_h = caption_lines * (CAPTION_PT + 3) + (4 if caption_lines else 0)
    label_w = max((_text_width(probe, t, _font(LABEL_PT)) for t in row_labels), default=0)
    label_w = label_w + GAP if label_w else 0
    rows = -(-len(cells) // columns)
    col_label_h = LABEL_PT + 6 if column_labels else 0
    widest = [_text_width(probe, line, _font(CAPTION_PT)) for c in cells for line in c.lines]
    widest += [_text_width(probe, t, _font(LABEL_PT)) for t in column_labels]
    cw, ch = max(cell_size[0], *widest, 0), cell_size[1]  # columns widen to fit their captions
    width = 2 * MARGIN + label_w + columns * cw + (columns - 1) * GAP
    subtitle_lines = _wrap(probe, subtitle, max(width - 2 * MARGIN, 300))
    header_h = TITLE_PT + 8 + len(subtitle_lines) * (CAPTION_PT + 4)
    height = 2 * MARGIN + header_h + col_label_h + rows * (ch + caption_h) + (rows - 1) * GAP
    width = max(width, 2 * MARGIN + _text_width(probe, title, _font(TITLE_PT)), 2 * MARGIN + 300)
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    draw.text((MARGIN, MARGIN), title, fill=INK, font=_font(TITLE_PT))
    for k, line in enumerate(subtitle_lines):
        draw.text((MARGIN, MARGIN + TITLE_PT + 6 + k * (CAPTION_PT + 4)), line, fill=FAINT, font=_font(CAPTION_PT))
    top = MARGIN + header_h
    left = MARGIN + label_w
    for k, text in enumerate(column_labels):
        x = left + k * (cw + GAP) + (cw - _text_width(draw, text, _font(LABEL_PT))) // 2
        draw.text((x, top), text, fill=INK, font=_font(LABEL_PT))
    top += col_label_h
    for index, cell in enumerate(cells):
        row, col = divmod(index, columns)
        x0, y0 = left + col * (cw + GAP), top + row * (ch + caption_h + GAP)
        picture = _fit(cell.image, cell_size)
        px, py = x0 + (cw - picture.width) // 2, y0 + (ch - picture.height) // 2
        canvas.paste(picture, (px, py))
        if cell.inset is not None:
            inset = _fit(cell.inset, (max(8, round(picture.width * INSET)), max(8, round(picture.height * INSET))))
            ix, iy = px + 3, py + picture.height - inset.height - 3
            draw.rectangle((ix - 2, iy - 2, ix + inset.width + 1, iy + inset.height + 1), fill=BACKGROUND)
            canvas.paste(inset, (ix, iy))
        for k, line in enumerate(cell.lines):
            font = _font(CAPTION_PT)
            tx = x0 + max(0, (cw - _text_width(draw, line, font)) // 2)
            draw.text((tx, y0 + ch + 4 + k * (CAPTION_PT + 3)), line, fill=INK if k == 0 else FAINT, font=font)
    for row, text in enumerate(row_labels):
        y = top + row * (ch + caption_h + GAP) + (ch - LABEL_PT) // 2
        draw.text((MARGIN, y), text, fill=INK, font=_font(LABEL_PT))
    return canvas
