"""Ticket codes: unguessable, nothing personal, small QR, and told apart when mistyped or foreign."""

from __future__ import annotations

import io

from PIL import Image

from checkin import tickets
from checkin.tickets import CodeProblem


def test_code_has_prefix_event_tag_and_enough_randomness() -> None:
    """A code is CK1-<tag>-<120 random bits + check>, and no two are alike."""
    codes = {tickets.new_code("sympo") for _ in range(1000)}
    assert len(codes) == 1000
    code = next(iter(codes))
    assert code.startswith(f"CK1-{tickets.event_tag('sympo')}-")
    assert len(code) == tickets.CODE_LENGTH
    assert tickets.BODY_CHARS * 5 >= 100


def test_code_fits_qr_version_4_at_m() -> None:
    """The code uses the alphanumeric set and needs QR version 4 or lower at level M."""
    assert tickets.qr_version(tickets.new_code("telework2023")) <= 4


def test_classify_tells_ok_wrong_event_and_invalid() -> None:
    """Own code ok; another event's code wrong_event; truncated, mistyped or garbage invalid."""
    code = tickets.new_code("sympo")
    assert tickets.classify(code, "sympo") is CodeProblem.OK
    assert tickets.classify(code.lower(), "sympo") is CodeProblem.OK
    assert tickets.classify(code, "other") is CodeProblem.WRONG_EVENT
    assert tickets.classify(code[:-1], "sympo") is CodeProblem.INVALID
    mistyped = code[:12] + ("A" if code[12] != "A" else "B") + code[13:]
    assert tickets.classify(mistyped, "sympo") is CodeProblem.INVALID
    for junk in ["", "hello", "https://example.com", "CK1-" + "A" * 31, "\x00" * 35]:
        assert tickets.classify(junk, "sympo") is CodeProblem.INVALID


def test_png_is_black_on_white_with_quiet_zone() -> None:
    """The PNG is a crisp two-colour image with a white 4-module border."""
    png = tickets.render_png(tickets.new_code("sympo"))
    image = Image.open(io.BytesIO(png)).convert("L")
    assert image.size[0] == image.size[1]
    assert set(image.get_flattened_data()) <= {0, 255}
    border = 4 * 10
    for x in range(image.size[0]):
        assert image.getpixel((x, border - 1)) == 255
    assert image.getpixel((border, border)) == 0  # the finder pattern's corner
