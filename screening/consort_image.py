"""The CONSORT diagram drawn as a PNG, for a report written in a word processor.

Drawn with Pillow from the same layout as the SVG (``consort_diagram.Diagram``), with the
diagram's title above it, at twice the SVG's scale so that it prints sharply. Chinese text
needs a CJK font: the first of ``FONTS`` found on the server is used (Debian's
fonts-noto-cjk, then Droid Sans Fallback, then WenQuanYi Zen Hei); without any, Pillow's own
font draws Latin text only.
"""

import functools
import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from screening.consort_diagram import Arrow, Diagram

SCALE = 2
FONT_SIZE = 13  # px, as in the SVG
TITLE_SIZE = 15
TITLE_HEIGHT = 30  # px above the diagram for its title
# (regular file, bold file, face index in a collection): Noto's collections hold the Japanese,
# Korean, Simplified Chinese ... faces, index 2 being Simplified Chinese.
FONTS = (
    (
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
        2,
    ),
    (
        "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
        "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
        0,
    ),
    (
        "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
        "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
        0,
    ),
)
FILLS = {"main": "#e7f1ff", "enrolled": "#d1e7dd", "side": "#f8f9fa"}
INK = "#212529"
LINES = "#495057"


@functools.cache
def font(size: int, *, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The first CJK font of ``FONTS`` on this server at ``size`` px, else Pillow's own."""
    for regular, bold_file, index in FONTS:
        path = bold_file if bold else regular
        if Path(path).is_file():
            return ImageFont.truetype(path, size * SCALE, index=index)
    return ImageFont.load_default(size * SCALE)


def _arrow(draw: ImageDraw.ImageDraw, arrow: Arrow, top: int) -> None:
    """A line with a filled head at its end; the diagram's arrows go down or to the right."""
    x1, y1 = arrow.x1 * SCALE, (arrow.y1 + top) * SCALE
    x2, y2 = arrow.x2 * SCALE, (arrow.y2 + top) * SCALE
    length, half = 10 * SCALE, 4 * SCALE
    if x1 == x2:  # down
        base, head = (x2, y2 - length), [(x2 - half, y2 - length), (x2 + half, y2 - length)]
    else:  # right
        base, head = (x2 - length, y2), [(x2 - length, y2 - half), (x2 - length, y2 + half)]
    draw.line([(x1, y1), base], fill=LINES, width=round(1.5 * SCALE))
    draw.polygon([*head, (x2, y2)], fill=LINES)


def png(diagram: Diagram) -> bytes:
    """The diagram with its title as PNG bytes."""
    width, height = diagram.width, diagram.height + TITLE_HEIGHT
    image = Image.new("RGB", (width * SCALE, height * SCALE), "white")
    draw = ImageDraw.Draw(image)
    draw.text(
        (16 * SCALE, 22 * SCALE),
        diagram.title,
        fill=INK,
        font=font(TITLE_SIZE, bold=True),
        anchor="ls",
    )
    top = TITLE_HEIGHT
    for arrow in diagram.arrows:
        _arrow(draw, arrow, top)
    for box in diagram.boxes:
        draw.rounded_rectangle(
            (
                box.x * SCALE,
                (box.y + top) * SCALE,
                (box.x + box.width) * SCALE,
                (box.y + top + box.height) * SCALE,
            ),
            radius=4 * SCALE,
            fill=FILLS[box.kind],
            outline=LINES,
            width=SCALE,
        )
        for line in box.lines:
            draw.text(
                (line.x * SCALE, (line.y + top) * SCALE),
                line.text,
                fill=INK,
                font=font(FONT_SIZE, bold=line.bold),
                anchor="ls",  # the SVG's y is the baseline too
            )
    output = io.BytesIO()
    image.save(output, format="PNG", optimize=True)
    return output.getvalue()
