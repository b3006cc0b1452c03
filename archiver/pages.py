"""Read captured bodies once: a page's title, visible text and requisites; a stylesheet's references.

An HTML body is parsed once, with lexbor (through selectolax), and the `Page` it gives
serves every rule that reads content (soft-404, parked, bot wall, drift) and the
discovery of the page's requisites: what a browser loads to show it (stylesheets,
scripts, images and their `srcset` candidates (lazy-loading `data-src` ones too), icons,
preloads, posters, old `background` attributes, and the `url()` and `@import` of
`<style>` blocks and `style` attributes). Media a player streams on demand (`<video>` and
`<audio>` sources) and embedded pages (`<iframe>`) are not requisites. A stylesheet's own
references are read with tinycss2, the tokenizer of a CSS engine, never with a regex.

Parsing is CPU work: `read_page_off_loop` runs it on a small pool of threads. lexbor
releases the GIL while it parses, so two threads use two cores, and the event loop keeps
reading sockets meanwhile. Bodies are read from their spooled file, the first MiB only.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import IO
from urllib.parse import urljoin, urlsplit, urlunsplit

import tinycss2
from selectolax.lexbor import LexborHTMLParser, LexborNode

from archiver.bodies import decoded_body
from archiver.model import Exchange, Page

READ_LIMIT = 1024 * 1024
_HIDDEN = ["script", "style", "noscript", "template"]
# Every element that can name a requisite, in one selector: one walk of the tree.
_REFERRING = "base[href], link[href], script[src], img, source, video[poster], input[src], style, [style], [background]"
# Lazy-loading scripts move these into src and srcset as the reader scrolls; replayed,
# they would ask the archive for them.
_LAZY_SOURCES = ("data-src", "data-lazy-src", "data-original")
_LAZY_SRCSETS = ("data-srcset", "data-lazy-srcset")
_LOADED_LINK_RELS = frozenset({"stylesheet", "preload", "modulepreload"})
_FETCHED_SCHEMES = ("http", "https")


def page_of(raw: bytes, content_encoding: str | None, content_type: str | None, base_url: str = "") -> Page:
    """The page of a body as stored (content-encoding still applied); its requisites are
    resolved against `base_url` (the page's own address) and found only in HTML."""
    decoded = decoded_body(raw[:READ_LIMIT], content_encoding, READ_LIMIT)
    html = (decoded.data if decoded else b"").decode(_charset(content_type), errors="replace")
    tree = LexborHTMLParser(html)
    referring = tree.css(_REFERRING)
    title_node = tree.css_first("title")
    title = " ".join(title_node.text().split()) if title_node is not None else ""
    scripts = tuple(_resolved(base_url, node.attributes.get("src")) for node in referring if node.tag == "script")
    requisites = _requisites(referring, base_url) if _is_html(content_type) else ()
    tree.strip_tags(_HIDDEN)
    text = " ".join(tree.root.text(separator=" ").split()).lower() if tree.root is not None else ""
    return Page(title=title, text=text, scripts=scripts, requisites=requisites)


def read_page(exchange: Exchange, base_url: str = "") -> Page:
    """The page of an exchange's body (the first MiB), read from its spooled file and put
    back where it was."""
    return page_of(_head_of(exchange.body), exchange.header("Content-Encoding"), exchange.header("Content-Type"),
                   base_url or exchange.url)  # fmt: skip


async def read_page_off_loop(exchange: Exchange, base_url: str = "") -> Page:
    """`read_page` on the parser threads, so that the event loop goes on meanwhile."""
    return await asyncio.get_running_loop().run_in_executor(_parser_pool(), read_page, exchange, base_url)


def stylesheet_references(css: str, base_url: str) -> tuple[str, ...]:
    """The URLs a stylesheet loads (`@import` and every `url()`), resolved, in order."""
    rules = tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True)
    return _unique(_resolved(base_url, url) for url in _css_urls(rules))


def read_stylesheet(exchange: Exchange) -> tuple[str, ...]:
    """The references of a fetched stylesheet (the first MiB, decoded)."""
    decoded = decoded_body(_head_of(exchange.body), exchange.header("Content-Encoding"), READ_LIMIT)
    css = (decoded.data if decoded else b"").decode(_charset(exchange.header("Content-Type")), errors="replace")
    return stylesheet_references(css, exchange.url)


async def read_stylesheet_off_loop(exchange: Exchange) -> tuple[str, ...]:
    """`read_stylesheet` on the parser threads."""
    return await asyncio.get_running_loop().run_in_executor(_parser_pool(), read_stylesheet, exchange)


def is_stylesheet(exchange: Exchange) -> bool:
    """The answer is CSS (by its type, or by its name when it gives no type)."""
    content_type = (exchange.header("Content-Type") or "").lower()
    return "text/css" in content_type or (not content_type and urlsplit(exchange.url).path.endswith(".css"))


def srcset_urls(srcset: str) -> list[str]:
    """The image URLs of a `srcset` attribute, by the HTML standard's parsing rules: a URL
    runs to the next whitespace (a comma inside it belongs to it), a trailing comma ends a
    candidate, descriptors run to the next comma outside parentheses."""
    urls, position, length = [], 0, len(srcset)
    while position < length:
        while position < length and (srcset[position].isspace() or srcset[position] == ","):
            position += 1
        start = position
        while position < length and not srcset[position].isspace():
            position += 1
        url = srcset[start:position]
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            position = _past_descriptors(srcset, position)
        if url:
            urls.append(url)
    return urls


def _past_descriptors(srcset: str, position: int) -> int:
    depth = 0
    while position < len(srcset):
        character = srcset[position]
        depth += {"(": 1, ")": -1}.get(character, 0)
        if character == "," and depth <= 0:
            return position + 1
        position += 1
    return position


def _requisites(referring: list[LexborNode], page_url: str) -> tuple[str, ...]:
    base = page_url
    found: list[str] = []
    for node in referring:
        if node.tag == "base" and base == page_url:
            base = urljoin(page_url, node.attributes.get("href") or "")
            continue
        found += _references_of(node)
    return _unique(_resolved(base, url) for url in found)


def _references_of(node: LexborNode) -> list[str]:
    """The URLs one element makes a browser load, as written."""
    attributes = node.attributes
    found: list[str] = []
    if node.tag == "link" and _loads(attributes.get("rel") or ""):
        found.append(attributes.get("href") or "")
        found += srcset_urls(attributes.get("imagesrcset") or "")
    elif node.tag in ("script", "img") or (node.tag == "input" and (attributes.get("type") or "").lower() == "image"):
        found.append(attributes.get("src") or "")
    elif node.tag == "source" and node.parent is not None and node.parent.tag in ("video", "audio"):
        pass  # media a player streams on demand, not part of how the page looks
    elif node.tag == "video":
        found.append(attributes.get("poster") or "")
    elif node.tag == "style":
        found += _css_urls(tinycss2.parse_stylesheet(node.text(), skip_comments=True, skip_whitespace=True))
    if node.tag in ("img", "source"):
        found += srcset_urls(attributes.get("srcset") or "")
        found += [attributes.get(name) or "" for name in _LAZY_SOURCES]
        found += [url for name in _LAZY_SRCSETS for url in srcset_urls(attributes.get(name) or "")]
    if node.tag in ("body", "table", "td", "th"):  # the old way to give them a background image
        found.append(attributes.get("background") or "")
    style = attributes.get("style")
    if style and "url(" in style.lower():
        found += _css_urls(tinycss2.parse_blocks_contents(style, skip_comments=True, skip_whitespace=True))
    return found


def _loads(rel: str) -> bool:
    tokens = set(rel.lower().split())
    return bool(tokens & _LOADED_LINK_RELS) or any("icon" in token for token in tokens)


def _css_urls(nodes: Iterable[object]) -> Iterator[str]:
    """Every `url()` and `@import` in parsed CSS, at any depth, in order."""
    for node in nodes:
        kind = getattr(node, "type", "")
        if kind == "url":
            yield str(getattr(node, "value", ""))
        elif kind == "function" and getattr(node, "lower_name", "") == "url":
            arguments = getattr(node, "arguments", ())
            yield from (str(arg.value) for arg in arguments if getattr(arg, "type", "") == "string")
        elif kind == "at-rule" and getattr(node, "lower_at_keyword", "") == "import":
            yield from _import_target(getattr(node, "prelude", ()))
        for children in ("prelude", "content", "arguments", "value"):
            inner = getattr(node, children, None)
            if isinstance(inner, list) and not (kind == "at-rule" and children == "prelude"):
                yield from _css_urls(inner)


def _import_target(prelude: Iterable[object]) -> Iterator[str]:
    """The address of an `@import` (a string or a url(), the first one)."""
    for token in prelude:
        kind = getattr(token, "type", "")
        if kind in ("string", "url"):
            yield str(getattr(token, "value", ""))
            return
        if kind == "function" and getattr(token, "lower_name", "") == "url":
            yield from _css_urls([token])
            return


def _resolved(base: str, url: str | None) -> str:
    """The absolute http(s) address of a reference, without its fragment; "" for anything else."""
    url = (url or "").strip()
    if not url or url.startswith("#"):
        return ""
    try:
        parts = urlsplit(urljoin(base, url))
    except ValueError:
        return ""
    if parts.scheme not in _FETCHED_SCHEMES or not parts.hostname:
        return ""
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))


def _unique(urls: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(url for url in urls if url))


def _head_of(body: IO[bytes]) -> bytes:
    position = body.tell()
    body.seek(0)
    head = body.read(READ_LIMIT)
    body.seek(position)
    return head


def _is_html(content_type: str | None) -> bool:
    return "html" in (content_type or "").lower()


@cache
def _parser_pool() -> ThreadPoolExecutor:
    """The parser threads, one per core, started on first use and shared by every run."""
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="archiver-parse")


def _charset(content_type: str | None) -> str:
    match = re.search(r"charset=[\"']?([\w.:-]+)", content_type or "", re.IGNORECASE)
    if match:
        try:
            "".encode(match.group(1))
            return match.group(1)
        except LookupError:
            pass
    return "utf-8"
