"""Degraded camera frames of real ticket codes: what a door camera sees of dim phones, glare and grey prints.

Every frame is 640×480 greyscale, made from a ticket code of `checkin.tickets` rendered as on the
ticket, then shrunk, tilted, washed out, blurred, lit by a bright blob, noised and JPEG-compressed.
Frames are made from a seed, so the corpus is the same on every run (only the codes are new).
`HARD` are the six that the old decoder missed: contrast 0.15 or 0.12 of a clean code, 150–230 px
wide, blurred up to 1.5 px.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageFilter

from checkin import tickets

SIZE = (640, 480)
QUIET = 4  # modules of light margin around the symbol, as on the ticket


@dataclass(frozen=True)
class Look:
    """How one frame is degraded; `size` is the symbol's width in pixels (without its margin)."""

    size: int
    contrast: float = 1.0  # dark modules are this share of the full black-to-white step darker than light ones
    light: int = 235  # grey level of the light modules: a dim phone ~100, paper ~200
    blur: float = 0.0  # Gaussian radius in pixels
    angle: float = 0.0  # degrees
    keystone: float = 0.0  # the top edge this share narrower than the bottom (perspective)
    glare: float = 0.0  # strength 0–1 of a bright blob over the upper-right of the code
    noise: int = 4  # sensor noise, ± grey levels
    jpeg: int = 0  # JPEG quality, 0 for none
    background: int = 70  # the phone or desk around the code


# The six tickets of the door report (dim screens and grey prints).
HARD = (
    Look(size=230, contrast=0.15, light=110, blur=1.0),
    Look(size=200, contrast=0.12, light=120, blur=0.8, noise=3),
    Look(size=150, contrast=0.15, light=200, blur=1.5, background=150),
    Look(size=180, contrast=0.12, light=130, blur=1.2, angle=8),
    Look(size=170, contrast=0.15, light=140, blur=1.5, glare=0.5),
    Look(size=220, contrast=0.12, light=190, blur=1.5, background=160, jpeg=80),
)


def wider(count: int = 42, seed: int = 20261204) -> list[Look]:
    """`count` looks mixing every degradation over its range, from a fixed seed."""
    rng = random.Random(seed)
    looks = []
    for _ in range(count):
        looks.append(
            Look(
                size=rng.randrange(150, 301),
                contrast=rng.choice((1.0, 0.6, 0.4, 0.3, 0.25, 0.2, 0.15, 0.12)),
                light=rng.choice((90, 120, 160, 200, 235)),
                blur=round(rng.uniform(0.0, 2.0), 1),
                angle=round(rng.uniform(-30, 30)) if rng.random() < 0.5 else 0.0,
                keystone=round(rng.uniform(0.05, 0.2), 2) if rng.random() < 0.3 else 0.0,
                glare=round(rng.uniform(0.3, 0.8), 1) if rng.random() < 0.3 else 0.0,
                noise=rng.choice((2, 4, 8)),
                jpeg=rng.choice((0, 30, 50, 80)),
                background=rng.choice((40, 70, 120, 180)),
            )
        )
    return looks


def frame(code: str, look: Look, seed: int = 0) -> Image.Image:
    """One 640×480 greyscale camera frame showing `code` as `look` says."""
    rng = random.Random(seed)
    dark = max(0, round(look.light - 255 * look.contrast))
    modules = tickets.render_png(code, tickets.QrOptions(box_size=1, border=QUIET))
    symbol = Image.open(io.BytesIO(modules)).convert("L").point(lambda v: look.light if v > 127 else dark)
    count = symbol.width - 2 * QUIET
    scale = look.size / count
    side = round(symbol.width * scale)
    code_image = symbol.resize((side, side), Image.Resampling.BILINEAR)
    mask = Image.new("L", code_image.size, 255)
    if look.keystone:
        code_image, mask = _keystone(code_image, look.keystone, look.light)
    if look.angle:
        code_image = code_image.rotate(look.angle, Image.Resampling.BICUBIC, expand=True, fillcolor=look.light)
        mask = mask.rotate(look.angle, Image.Resampling.BICUBIC, expand=True, fillcolor=0)
    picture = Image.new("L", SIZE, look.background)
    corner = ((SIZE[0] - code_image.width) // 2 + rng.randrange(-40, 41), (SIZE[1] - code_image.height) // 2)
    # The phone's screen is a little larger than the code and its margin.
    screen = Image.new("L", (code_image.width + 30, code_image.height + 30), look.light)
    screen_mask = mask.resize(screen.size, Image.Resampling.BILINEAR)
    picture.paste(screen, (corner[0] - 15, corner[1] - 15), screen_mask)
    picture.paste(code_image, corner, mask)
    if look.glare:
        picture = _glare(picture, (corner[0] + code_image.width * 3 // 4, corner[1] + code_image.height // 4),
                         code_image.width // 3, look.glare)  # fmt: skip
    if look.blur:
        picture = picture.filter(ImageFilter.GaussianBlur(look.blur))
    if look.noise:
        noise = Image.frombytes("L", SIZE, rng.randbytes(SIZE[0] * SIZE[1]))
        noise = noise.point(lambda v: v * 2 * look.noise // 255)
        picture = ImageChops.add(picture, noise, 1.0, -look.noise)
    if look.jpeg:
        out = io.BytesIO()
        picture.save(out, "JPEG", quality=look.jpeg)
        picture = Image.open(io.BytesIO(out.getvalue())).convert("L")
    return picture


def _glare(picture: Image.Image, centre: tuple[int, int], radius: int, strength: float) -> Image.Image:
    """A bright blob: the frame blended towards white, most at the centre, fading out at `radius`."""
    blob = Image.radial_gradient("L").resize((2 * radius, 2 * radius), Image.Resampling.BILINEAR)
    blob = blob.point(lambda v: round(max(0, 255 - 2 * v) * strength))
    mask = Image.new("L", picture.size, 0)
    mask.paste(blob, (centre[0] - radius, centre[1] - radius))
    return Image.composite(Image.new("L", picture.size, 255), picture, mask)


def _keystone(image: Image.Image, amount: float, fill: int) -> tuple[Image.Image, Image.Image]:
    """The image seen in perspective: its top edge `amount` narrower; with the mask of where it is."""
    width, height = image.size
    inset = width * amount / 2
    target = [(inset, 0), (width - inset, 0), (width, height), (0, height)]
    source = [(0, 0), (width, 0), (width, height), (0, height)]
    coeffs = _perspective(target, source)
    seen = image.transform(image.size, Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BICUBIC, fillcolor=fill)
    mask = Image.new("L", image.size, 255).transform(image.size, Image.Transform.PERSPECTIVE, coeffs, fillcolor=0)
    return seen, mask


def _perspective(target: list[tuple[float, float]], source: list[tuple[float, float]]) -> list[float]:
    """Pillow's eight coefficients mapping output points `target` to input points `source`."""
    rows: list[list[float]] = []
    for (x, y), (u, v) in zip(target, source, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y, u])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y, v])
    # Gaussian elimination with partial pivoting on the 8×9 augmented matrix.
    for col in range(8):
        pivot = max(range(col, 8), key=lambda r: abs(rows[r][col]))
        rows[col], rows[pivot] = rows[pivot], rows[col]
        for r in range(8):
            if r != col and rows[r][col]:
                factor = rows[r][col] / rows[col][col]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[col], strict=True)]
    return [rows[i][8] / rows[i][i] for i in range(8)]


def seeded_code(slug: str, rng: random.Random) -> str:
    """A ticket code of the real format (as `tickets.new_code` makes), from a seeded generator."""
    head = f"{tickets.FORMAT}-{tickets.event_tag(slug)}-{tickets._b32(rng.randbytes(15))[: tickets.BODY_CHARS]}"
    code = head + tickets._check(head)
    assert tickets.classify(code, slug) is tickets.CodeProblem.OK, code
    return code


def corpus(slug: str = "sympo", count: int = 42) -> tuple[list[tuple[str, Image.Image]], list[tuple[str, Image.Image]]]:
    """(the six hard frames, the wider set), each as (ticket code, frame): the same codes and frames every time."""
    rng = random.Random(slug)
    hard = [(seeded_code(slug, rng), look) for look in HARD]
    rest = [(seeded_code(slug, rng), look) for look in wider(count)]
    return (
        [(code, frame(code, look, seed)) for seed, (code, look) in enumerate(hard)],
        [(code, frame(code, look, 100 + seed)) for seed, (code, look) in enumerate(rest)],
    )
