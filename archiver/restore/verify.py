"""Judge a recovered capture: is it really what the dead URL used to serve?

An image must be a captured 200 whose bytes decode, all the way through, as an image of
the type its Content-Type claims (SVG is parsed safely as XML with an `svg` root and no
script, event handler or embedded document, since it will be served from the blog's own
site). A page (for
links) must be a captured 200 that is not a parking page or a challenge. Captures that
stand in for lost content are placeholders: a 1x1 spacer, bytes listed in
`restore.reject_digests`, or a redirect to a file named as a placeholder
("removed.png", "photo_unavailable.gif"). Each refusal is a sentence for the report.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit
from xml.etree.ElementTree import Element

import defusedxml.ElementTree
from PIL import Image

from archiver.health import judge_content
from archiver.model import FetchResult, Status
from archiver.pages import page_of
from archiver.restore.sources import Retrieved
from archiver.times import utc_now

# The raster formats browsers show, as Pillow names them, with the extension files get.
_EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "MPO": "jpg", "GIF": "gif", "WEBP": "webp", "BMP": "bmp",
               "ICO": "ico", "TIFF": "tif", "AVIF": "avif"}  # fmt: skip
_MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "MPO": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp",
         "BMP": "image/bmp", "ICO": "image/x-icon", "TIFF": "image/tiff", "AVIF": "image/avif"}  # fmt: skip
_SAME_TYPE = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "image/x-png": "image/png",
              "image/vnd.microsoft.icon": "image/x-icon", "image/ico": "image/x-icon", "image/x-ms-bmp": "image/bmp",
              "image/tif": "image/tiff"}  # fmt: skip
_NO_CLAIM = frozenset({"", "application/octet-stream", "binary/octet-stream", "application/x-unknown"})
_SVG = "image/svg+xml"
_PLACEHOLDER_NAME = re.compile(
    r"(removed|unavailable|placeholder|not[-_ ]?found|missing|deleted|no[-_ ]?image|no[-_ ]?photo|404|default)"
    r"[^/]*\.(png|gif|jpe?g|svg|webp)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Accepted:
    """A capture judged to be the real thing."""

    content_type: str  # what it is, as a media type
    extension: str  # the file name extension it is stored with ("" for a page)
    sha256: str


@dataclass(frozen=True)
class Rejected:
    """A capture judged unusable, with the reason."""

    reason: str


Judgement = Accepted | Rejected


def sha256_of(body: bytes) -> str:
    """The hexadecimal SHA-256 of a payload, as manifests and `reject_digests` write it."""
    return hashlib.sha256(body).hexdigest()


def placeholder_redirect(url: str, target: str) -> bool:
    """A redirect from `url` to a different file whose name says it is a placeholder."""
    name = unquote(urlsplit(target).path).rsplit("/", 1)[-1]
    own = unquote(urlsplit(url).path).rsplit("/", 1)[-1]
    return name != own and bool(_PLACEHOLDER_NAME.search(name))


def judge_image(retrieved: Retrieved, reject_digests: frozenset[str]) -> Judgement:
    """Accept the capture when its bytes are a real image of the type claimed."""
    refusal = _not_an_answer(retrieved)
    if refusal is not None:
        return Rejected(refusal)
    digest = sha256_of(retrieved.body)
    if digest in reject_digests:
        return Rejected(f"a known placeholder (SHA-256 {digest[:12]}… is in restore.reject_digests)")
    claim = _media_type(retrieved.content_type)
    if claim.startswith("text/") or claim in ("application/xhtml+xml", "application/json"):
        return Rejected(f"the capture is a {claim} document (an error page or soft-404), not an image")
    if claim == _SVG or (claim in _NO_CLAIM and _looks_like_svg(retrieved.body)):
        return _judge_svg(retrieved.body, digest)
    return _judge_raster(retrieved.body, claim, digest)


def judge_page(retrieved: Retrieved) -> Judgement:
    """Accept a captured page unless it is an error, a parking page or a challenge."""
    refusal = _not_an_answer(retrieved)
    if refusal is not None:
        return Rejected(refusal)
    page = page_of(retrieved.body, None, retrieved.content_type)
    url = retrieved.candidate.url
    result = FetchResult(url, Status.OK, retrieved.code, url, (), 1, 0.0, utc_now())
    finding = judge_content(result, page)
    if finding is not None and finding.status is not None and not finding.status.is_ok:
        return Rejected(f"the capture is not the page: {finding.detail}")
    return Accepted(_media_type(retrieved.content_type) or "application/octet-stream", "", sha256_of(retrieved.body))


def _not_an_answer(retrieved: Retrieved) -> str | None:
    if retrieved.problem:
        return retrieved.problem
    if retrieved.code != 200:
        return f"the archived answer is {retrieved.code}, not 200"
    if not retrieved.body:
        return "the archived answer is empty"
    return None


def _judge_raster(body: bytes, claim: str, digest: str) -> Judgement:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image_format, size = _decoded_fully(body)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return Rejected("the image is too large to decode safely (a decompression bomb?)")
    except Exception as error:  # noqa: BLE001 - Pillow raises many kinds of error on hostile bytes
        return Rejected(f"the bytes do not decode as an image ({_short(error)})")
    actual = _MIME[image_format]
    if claim not in _NO_CLAIM and claim != actual:
        return Rejected(f"claims {claim} but the bytes are {image_format}")
    if size == (1, 1):
        return Rejected("a 1x1 image: a spacer or tracking pixel standing in for the picture")
    return Accepted(actual, _EXTENSIONS[image_format], digest)


def _decoded_fully(body: bytes) -> tuple[str, tuple[int, int]]:
    """The Pillow format and size of an image, after decoding every frame's pixels."""
    with Image.open(io.BytesIO(body), formats=_openers()) as image:
        image_format = str(image.format)
        image.verify()
    with Image.open(io.BytesIO(body), formats=(image_format,)) as image:
        for frame in range(getattr(image, "n_frames", 1)):
            image.seek(frame)
            image.load()
        return image_format, image.size


def _openers() -> tuple[str, ...]:
    """The formats to try, as Pillow opens them (an MPO opens as a JPEG)."""
    Image.init()
    return tuple(name for name in _EXTENSIONS if name in Image.OPEN)


def _judge_svg(body: bytes, digest: str) -> Judgement:
    try:
        root = defusedxml.ElementTree.fromstring(body)
    except defusedxml.DefusedXmlException as error:
        return Rejected(f"the SVG declares entities or external references, refused for safety ({_short(error)})")
    except (defusedxml.ElementTree.ParseError, ValueError) as error:
        return Rejected(f"the bytes are not a well-formed SVG document ({_short(error)})")
    if _local(root.tag) != "svg":
        return Rejected(f"the XML document is a <{root.tag}>, not an <svg> image")
    active = next((what for element in root.iter() if (what := _active_content(element))), "")
    if active:
        # the file is served from the blog's own address: script in it would run as the blog
        return Rejected(f"the SVG carries active content ({active}), which would run on the blog's site")
    return Accepted(_SVG, "svg", digest)


def _active_content(element: Element) -> str:
    name = _local(element.tag)
    if name in ("script", "foreignObject", "iframe", "embed", "object"):
        return f"<{name}>"
    for attribute, value in element.attrib.items():
        local = _local(attribute)
        if local.lower().startswith("on"):
            return f"the {local} attribute"
        if local == "href" and value.strip().lower().startswith(("javascript:", "data:text/html")):
            return f"a {value.strip()[:20]}… link"
    return ""


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]


def _looks_like_svg(body: bytes) -> bool:
    return b"<svg" in body[:4096].lower()


def _media_type(content_type: str | None) -> str:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return _SAME_TYPE.get(media, media)


def _short(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) < 120 else text[:117] + "…"
