"""What counts as a recovered image: real bytes of the claimed type, never a stand-in."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from PIL import Image

from archiver.restore.sources import Candidate, Retrieved
from archiver.restore.verify import Accepted, Rejected, judge_image, placeholder_redirect, sha256_of

WHEN = dt.datetime(2015, 1, 1, tzinfo=dt.UTC)


def _retrieved(body: bytes, content_type: str | None = "image/png", code: int = 200) -> Retrieved:
    candidate = Candidate("http://a.test/x.png", WHEN, "Archive", "http://archive.test/web/2015/http://a.test/x.png")
    return Retrieved(candidate, WHEN, code=code, content_type=content_type, body=body)


def _image(kind: str, size: tuple[int, int] = (20, 10)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "red").save(buffer, kind)
    return buffer.getvalue()


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (_image("PNG"), "image/png", ("image/png", "png")),
        (_image("JPEG"), "image/jpg", ("image/jpeg", "jpg")),
        (_image("GIF"), None, ("image/gif", "gif")),
        (_image("WEBP"), "application/octet-stream", ("image/webp", "webp")),
        (SVG, "image/svg+xml", ("image/svg+xml", "svg")),
        (SVG, None, ("image/svg+xml", "svg")),
    ],
)
def test_real_images_are_accepted_with_their_type(body: bytes, content_type: str | None, expected: object) -> None:
    judgement = judge_image(_retrieved(body, content_type), frozenset())

    assert isinstance(judgement, Accepted)
    assert (judgement.content_type, judgement.extension) == expected
    assert judgement.sha256 == sha256_of(body)


PNG = _image("PNG")


@pytest.mark.parametrize(
    ("retrieved", "reason"),
    [
        (_retrieved(PNG, code=404), "the archived answer is 404, not 200"),
        (_retrieved(b""), "the archived answer is empty"),
        (_retrieved(b"<html>Not found</html>", "text/html"), "the capture is a text/html document"),
        (_retrieved(PNG, "image/gif"), "claims image/gif but the bytes are PNG"),
        (_retrieved(PNG[: len(PNG) // 2]), "the bytes do not decode as an image"),
        (_retrieved(b"II*\x00" + b"\xff" * 60, "image/tiff"), "the bytes do not decode as an image"),
        (_retrieved(_image("GIF", (1, 1)), "image/gif"), "a 1x1 image"),
        (_retrieved(b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "image/svg+xml"),
         "the SVG carries active content (<script>)"),
        (_retrieved(b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "image/svg+xml"),
         "the SVG carries active content (the onload attribute)"),
        (_retrieved(b'<!DOCTYPE svg [<!ENTITY a "aaaa">]><svg>&a;</svg>', "image/svg+xml"),
         "the SVG declares entities"),
        (_retrieved(b"<html><body/></html>", "image/svg+xml"), "the XML document is a <html>, not an <svg> image"),
    ],
)  # fmt: skip
def test_stand_ins_are_rejected_with_the_reason(retrieved: Retrieved, reason: str) -> None:
    judgement = judge_image(retrieved, frozenset())

    assert isinstance(judgement, Rejected)
    assert judgement.reason.startswith(reason), judgement.reason


def test_a_listed_digest_is_a_placeholder() -> None:
    judgement = judge_image(_retrieved(PNG), frozenset({sha256_of(PNG)}))

    assert isinstance(judgement, Rejected)
    assert "restore.reject_digests" in judgement.reason


def test_a_png_claiming_65536_squared_pixels_is_refused() -> None:
    bomb = _image("PNG", (1, 1))
    huge = bomb.replace(b"\x00\x00\x00\x01\x00\x00\x00\x01", b"\x00\x01\x00\x00\x00\x01\x00\x00", 1)  # 65536²

    judgement = judge_image(_retrieved(huge), frozenset())

    assert isinstance(judgement, Rejected)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("https://i.imgur.test/removed.png", True),
        ("https://s.yimg.test/pw/images/en-us/photo_unavailable.gif", True),
        ("https://cdn.a.test/x.png", False),  # the same file, moved
        ("https://a.test/images/diagram-final.png", False),
    ],
)
def test_a_redirect_to_a_placeholder_file_is_told_by_its_name(target: str, expected: bool) -> None:
    assert placeholder_redirect("http://a.test/x.png", target) is expected
