"""Read captured bodies once: a page's title, visible text and requisites; a stylesheet's references.

An HTML body is parsed once, with lexbor (through selectolax), and the `Page` it gives
serves every rule that reads content (soft-404, parked, bot wall, drift) and the
discovery of the page's requisites: what a browser loads to show it (stylesheets,
scripts, images and their `srcset` candidates (lazy-loading `data-src` ones too), icons,
preloads, posters, old `background` attributes, and the `url()` and `@import` of
`<style>` blocks and `style` attributes). Media a player streams on demand (`<video>` and
`<audio>` sources) and embedded pages (`<iframe>`) are not requisites. A stylesheet's own
references are read with tinycss2, the tokenizer of a CSS engine, never with a regex.

Parsing is CPU work: `read_page_off_loop` and `read_stylesheet_off_loop` run it in a
small pool of processes, so that it uses another core and the event loop keeps reading
sockets meanwhile. Bodies are read from their spooled file, the first MiB only.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import re
import weakref
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import IO, Any, TypeVar
from urllib.parse import urljoin, urlsplit

import tinycss2
from selectolax.lexbor import LexborHTMLParser, LexborNode

from archiver.beside import started_beside_the_run
from archiver.bodies import decoded_body
from archiver.extract.html import srcset_urls
from archiver.extract.urls import ResolvedUrl, resolve
from archiver.model import Exchange, Page

_log = logging.getLogger(__name__)
_Parsed = TypeVar("_Parsed")

READ_LIMIT = 1024 * 1024
# Of a page's visible text, the rules compare at most the first 4,000 characters (after
# taking out numbers and the path); this many leaves room, and keeps the cost of a page
# bounded whatever its size.
TEXT_LIMIT = 16_000
_HIDDEN = ["script", "style", "noscript", "template"]
_BATCH_WAIT = 0.004  # seconds a page waits for others to share its trip to a parser process
_BATCH_MOST = 16
# Every element that can name a requisite, in one selector: one walk of the tree.
_REFERRING = "base[href], link[href], script[src], img, source, video[poster], input[src], style, [style], [background]"
# Lazy-loading scripts move these into src and srcset as the reader scrolls; replayed,
# they would ask the archive for them.
_LAZY_SOURCES = ("data-src", "data-lazy-src", "data-original")
_LAZY_SRCSETS = ("data-srcset", "data-lazy-srcset")
_LOADED_LINK_RELS = frozenset({"stylesheet", "preload", "modulepreload"})
_FETCHED_SCHEMES = ("http", "https")


def page_of(
    raw: bytes, content_encoding: str | None, content_type: str | None, base_url: str = "", *, requisites: bool = True
) -> Page:
    """The page of a body as stored (content-encoding still applied); its requisites are
    resolved against `base_url` (the page's own address) and found only in HTML, and only
    when asked for (`requisites`)."""
    decoded = decoded_body(raw[:READ_LIMIT], content_encoding, READ_LIMIT)
    html = (decoded.data if decoded else b"").decode(_charset(content_type), errors="replace")
    tree = LexborHTMLParser(html)
    # every element that can name a requisite is one walk of the tree; scripts alone, a shorter one
    referring = tree.css(_REFERRING if requisites else "script[src]")
    title_node, heading_node = tree.css_first("title"), tree.css_first("h1")
    heading = " ".join(heading_node.text().split()) if heading_node is not None else ""
    title = " ".join(title_node.text().split()) if title_node is not None else ""
    scripts = _unique(_resolved(base_url, node.attributes.get("src")) for node in referring if node.tag == "script")
    found = _requisites(referring, base_url) if requisites and _is_html(content_type) else ()
    tree.strip_tags(_HIDDEN)
    text = _visible_text(tree.root.text(separator=" ")) if tree.root is not None else ""
    return Page(title=title, text=text, scripts=scripts, requisites=found, heading=heading)


def page_or_none(raw: bytes, content_encoding: str | None, content_type: str | None, base_url: str) -> Page | None:
    """`page_of`, or None (with a warning) when the body cannot be read as a page."""
    page, problem = _guarded(page_of, raw, content_encoding, content_type, base_url)
    if page is None:
        _log.warning("%s could not be read as a page (%s)", base_url, problem)
    return page


async def read_page_off_loop(exchange: Exchange, base_url: str = "", *, requisites: bool = True) -> Page:
    """The page of an exchange's body (the first MiB of its spooled file, which is left
    where it was), read in a parser process so that the event loop goes on meanwhile; an
    empty page, with a warning naming the URL, when the body cannot be read as one. Its
    requisites are found only when asked for (`requisites`)."""
    arguments = (_head_of(exchange.body), exchange.header("Content-Encoding"), exchange.header("Content-Type"),
                 base_url or exchange.url)  # fmt: skip
    work = page_of if requisites else _page_without_requisites
    return await _in_parser(work, *arguments, url=exchange.url, failed=Page(title="", text=""))


def _page_without_requisites(
    raw: bytes, content_encoding: str | None, content_type: str | None, base_url: str = ""
) -> Page:
    """`page_of` without the requisites (a module-level function: it is sent to a parser process)."""
    return page_of(raw, content_encoding, content_type, base_url, requisites=False)


def stylesheet_references(css: str, base_url: str) -> tuple[str, ...]:
    """The URLs a stylesheet loads (`@import` and every `url()`), resolved, in order."""
    rules = tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True)
    return _unique(_resolved(base_url, url) for url in _css_urls(rules))


def read_stylesheet(raw: bytes, content_encoding: str | None, content_type: str | None, url: str) -> tuple[str, ...]:
    """The references of a fetched stylesheet (its body as stored, the first MiB decoded)."""
    decoded = decoded_body(raw[:READ_LIMIT], content_encoding, READ_LIMIT)
    css = (decoded.data if decoded else b"").decode(_charset(content_type), errors="replace")
    return stylesheet_references(css, url)


async def read_stylesheet_off_loop(exchange: Exchange) -> tuple[str, ...]:
    """`read_stylesheet` in a parser process."""
    arguments = (_head_of(exchange.body), exchange.header("Content-Encoding"), exchange.header("Content-Type"),
                 exchange.url)  # fmt: skip
    return await _in_parser(read_stylesheet, *arguments, url=exchange.url, failed=())


async def _in_parser(work: Callable[..., _Parsed], *arguments: object, url: str, failed: _Parsed) -> _Parsed:
    """`work(*arguments)` in a parser process (on a worker thread instead once processes
    turned out not to work here: the pool could not start, or a worker died); `failed`,
    with a warning naming the URL, when the work raised."""
    outcome: tuple[_Parsed | None, str] | None = None
    if _PARSERS.usable:
        try:
            outcome = await _batch_of(asyncio.get_running_loop()).read(work, arguments)
        except (BrokenProcessPool, OSError) as error:
            _PARSERS.give_up(f"{error!r}, while reading {url}")
    if outcome is None:
        outcome = await asyncio.to_thread(_guarded, work, *arguments)
    result, problem = outcome
    if result is None:
        _log.warning("%s could not be read as a page (%s); it is judged by its status alone", url, problem)
        return failed
    return result


class _Batch:
    """The reads asked for in the last few milliseconds, sent to the parser processes
    together: split in as many trips as there are processes, and a trip costs the event
    loop's process about 0.36 ms of CPU whatever it carries (the executor's threads, pipes
    and wake-ups): 0.13 ms a page in trips of 8, measured with 20 KB pages. A read waits
    at most `_BATCH_WAIT` for others to join it. Held for one event loop, which it does
    not hold."""

    def __init__(self) -> None:
        self._reads: list[_Read] = []
        self._timer: asyncio.TimerHandle | None = None

    async def read(self, work: Callable[..., _Parsed], arguments: tuple[object, ...]) -> tuple[_Parsed | None, str]:
        """`_guarded(work, *arguments)`, done in a parser process with the reads asked for about the same time."""
        loop = asyncio.get_running_loop()
        read = _Read(work, arguments, loop.create_future())
        self._reads.append(read)
        if len(self._reads) >= _BATCH_MOST:
            self._send()
        elif self._timer is None:
            self._timer = loop.call_later(_BATCH_WAIT, self._send)
        try:
            return await read.outcome
        except asyncio.CancelledError:  # a run stopped: what it no longer waits for is not parsed
            self._reads = [waiting for waiting in self._reads if waiting is not read]
            raise

    def _send(self) -> None:
        reads, self._reads = self._reads, []
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        trips = _PARSERS.workers
        for first in range(min(trips, len(reads))):
            _send_trip(reads[first::trips])


@dataclass(frozen=True, slots=True)
class _Read:
    work: Callable[..., Any]
    arguments: tuple[object, ...]
    outcome: asyncio.Future[tuple[Any, str]]


def _send_trip(reads: list[_Read]) -> None:
    """One trip to a parser process with `reads`, each told its outcome when it is back;
    the trip is called off once none is waiting for it."""
    loop = asyncio.get_running_loop()
    try:
        if not _PARSERS.usable:  # they failed since these reads were asked for: each is done here
            raise BrokenProcessPool("the parser processes failed")
        trip = loop.run_in_executor(_PARSERS.executor(), _guarded_each, [(read.work, read.arguments) for read in reads])
    except Exception as error:  # noqa: BLE001 - a pool that cannot take work: each read is told
        trip = loop.create_future()
        trip.set_exception(error)
    outcomes = [read.outcome for read in reads]
    trip.add_done_callback(lambda done: _hand_out(done, outcomes))

    def call_off_when_unwanted(_: object) -> None:
        if not trip.done() and all(outcome.done() for outcome in outcomes):
            trip.cancel()  # dropped from the executor's queue if no process has taken it yet

    for outcome in outcomes:
        outcome.add_done_callback(call_off_when_unwanted)


def _hand_out(trip: asyncio.Future[list[tuple[Any, str]]], outcomes: list[asyncio.Future[tuple[Any, str]]]) -> None:
    """Each read's outcome to the one waiting for it (none to one no longer waiting: cancelled)."""
    waiting = [outcome for outcome in outcomes if not outcome.done()]
    if trip.cancelled():
        for outcome in waiting:
            outcome.cancel()
        return
    error = trip.exception()
    if error is not None:
        for outcome in waiting:
            outcome.set_exception(error)
        return
    for outcome, parsed in zip(outcomes, trip.result(), strict=True):
        if not outcome.done():
            outcome.set_result(parsed)


_BATCHES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Batch] = weakref.WeakKeyDictionary()


def _batch_of(loop: asyncio.AbstractEventLoop) -> _Batch:
    """The loop's batch of reads (each run has its own loop)."""
    batch = _BATCHES.get(loop)
    if batch is None:
        batch = _BATCHES[loop] = _Batch()
    return batch


def _guarded_each(reads: list[tuple[Callable[..., _Parsed], tuple[object, ...]]]) -> list[tuple[_Parsed | None, str]]:
    """`_guarded` of each read, in order (one parser trip)."""
    return [_guarded(work, *arguments) for work, arguments in reads]


def _guarded(work: Callable[..., _Parsed], *arguments: object) -> tuple[_Parsed | None, str]:
    """`work(*arguments)`, and what it raised: a hostile body is one URL's problem, never the run's."""
    try:
        return work(*arguments), ""
    except Exception as error:  # noqa: BLE001 - whatever the parser raises on a body
        return None, repr(error)


def is_stylesheet(exchange: Exchange) -> bool:
    """The answer is CSS (by its type, or by its name when it gives no type)."""
    content_type = (exchange.header("Content-Type") or "").lower()
    return "text/css" in content_type or (not content_type and urlsplit(exchange.url).path.endswith(".css"))


def _requisites(referring: list[LexborNode], page_url: str) -> tuple[str, ...]:
    base = page_url
    written: dict[str, str] = {}  # each reference as written, and the base it stands under
    for node in referring:
        if node.tag == "base" and base == page_url:
            base = urljoin(page_url, node.attributes.get("href") or "")
            continue
        for url in _references_of(node):
            if url and url not in written:
                written[url] = base
    return _unique(_resolved(base, url) for url, base in written.items())


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
        return []  # media a player streams on demand, not part of how the page looks
    elif node.tag == "video":
        found.append(attributes.get("poster") or "")
    elif node.tag == "style":
        found += _style_block_urls(node.text())
    if node.tag in ("img", "source"):
        found += srcset_urls(attributes.get("srcset") or "")
        found += [attributes.get(name) or "" for name in _LAZY_SOURCES]
        found += [url for name in _LAZY_SRCSETS if name in attributes for url in srcset_urls(attributes[name] or "")]
    if node.tag in ("body", "table", "td", "th"):  # the old way to give them a background image
        found.append(attributes.get("background") or "")
    style = attributes.get("style")
    if style and "url(" in style.lower():
        found += _css_urls(tinycss2.parse_blocks_contents(style, skip_comments=True, skip_whitespace=True))
    return found


def _style_block_urls(css: str) -> list[str]:
    """What a `<style>` block loads; read only when it can load something (tokenizing CSS
    in Python costs about as much as parsing the page)."""
    lowered = css.lower()
    if "url(" not in lowered and "@import" not in lowered:
        return []
    return list(_css_urls(tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True)))


def _loads(rel: str) -> bool:
    tokens = set(rel.lower().split())
    return bool(tokens & _LOADED_LINK_RELS) or any("icon" in token for token in tokens)


def _css_urls(nodes: Iterable[object]) -> Iterator[str]:
    """Every `url()` and `@import` in parsed CSS, at any depth, in order. The walk keeps its
    own stack: a stylesheet nests blocks as deep as it likes, Python's stack does not."""
    pending: list[Iterator[object]] = [iter(nodes)]
    while pending:
        node = next(pending[-1], None)
        if node is None:
            pending.pop()
            continue
        found, inner = _css_node(node)
        yield from found
        pending += [iter(children) for children in reversed(inner)]


def _css_node(node: object) -> tuple[list[str], list[list[object]]]:
    """One parsed CSS node: the addresses it names itself, and the lists inside it."""
    kind = getattr(node, "type", "")
    found: list[str] = []
    if kind == "url":
        found.append(str(getattr(node, "value", "")))
    elif kind == "function" and getattr(node, "lower_name", "") == "url":
        found += [str(arg.value) for arg in getattr(node, "arguments", ()) if getattr(arg, "type", "") == "string"]
    elif kind == "at-rule" and getattr(node, "lower_at_keyword", "") == "import":
        found += _import_target(getattr(node, "prelude", ()))
    inner = [getattr(node, name, None) for name in ("prelude", "content", "arguments", "value")]
    if kind == "at-rule" and getattr(node, "lower_at_keyword", "") == "import":
        inner[0] = None  # the import's address, already taken
    if kind == "function" and getattr(node, "lower_name", "") == "url":
        inner[2] = None  # the url()'s own string, already taken
    return found, [children for children in inner if isinstance(children, list)]


def _import_target(prelude: Iterable[object]) -> list[str]:
    """The address of an `@import` (a string or a url(), the first one)."""
    for token in prelude:
        kind = getattr(token, "type", "")
        if kind in ("string", "url"):
            return [str(getattr(token, "value", ""))]
        if kind == "function" and getattr(token, "lower_name", "") == "url":
            return list(_css_urls([token]))
    return []


def _resolved(base: str, url: str | None) -> str:
    """The absolute http(s) address of a reference, without its fragment, normalised as the
    extractor normalises links (so a requisite that is also a link is known as one); ""
    for anything else."""
    url = (url or "").strip()
    if not url or url.startswith("#"):
        return ""
    try:
        absolute = urljoin(base, url).partition("#")[0]
    except ValueError:
        return ""
    scheme, separator, rest = absolute.partition("://")
    if scheme.lower() not in _FETCHED_SCHEMES or not separator or not rest or rest[0] in "/?":
        return ""
    authority = rest.partition("/")[0].partition("?")[0]
    if scheme == scheme.lower() and authority == authority.lower() and ":" not in authority and "/" in rest:
        return absolute  # already as the extractor writes links: the common case, kept cheap
    resolved = resolve(absolute, None)
    return resolved.url if isinstance(resolved, ResolvedUrl) else ""


def _unique(urls: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(url for url in urls if url))


def _visible_text(text: str) -> str:
    """The first `TEXT_LIMIT` characters of a text, whitespace collapsed, in lower case."""
    window = text[: TEXT_LIMIT * 2]
    collapsed = " ".join(window.split())
    if len(collapsed) < TEXT_LIMIT and len(window) < len(text):  # mostly whitespace so far: read it all
        collapsed = " ".join(text.split())
    return collapsed[:TEXT_LIMIT].lower()


def _head_of(body: IO[bytes]) -> bytes:
    position = body.tell()
    body.seek(0)
    head = body.read(READ_LIMIT)
    body.seek(position)
    return head


def _is_html(content_type: str | None) -> bool:
    return "html" in (content_type or "").lower()


class _ParserPool:
    """The parser processes, started on first use and shared by every run of the process:
    one fewer than the cores (the event loop keeps one), at least one. Processes, not
    threads: the Python around lexbor's parse holds the GIL, and on threads it waited on
    the event loop and the loop on it (measured in `bench/bench_pages.py`). Started with
    `spawn`, so that no thread of the run is forked. Where processes cannot be started
    (a sandbox without them, a script that starts a run when imported), parsing goes on in
    threads, with one warning."""

    def __init__(self) -> None:
        self.usable = True
        self._executor: ProcessPoolExecutor | None = None

    @property
    def workers(self) -> int:
        """How many parser processes there are (or will be, once started)."""
        return max(1, (os.cpu_count() or 2) - 1)

    def executor(self) -> ProcessPoolExecutor:
        if self._executor is None:
            context = multiprocessing.get_context("spawn")
            self._executor = ProcessPoolExecutor(self.workers, mp_context=context, initializer=started_beside_the_run)
        return self._executor

    def shutdown(self) -> None:
        """Stop the processes; the next parse starts them again."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def give_up(self, why: str) -> None:
        if self.usable:
            _log.warning("parsing pages in this process from now on: the parser processes failed (%s)", why)
        self.usable = False
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


_PARSERS = _ParserPool()


def _charset(content_type: str | None) -> str:
    match = re.search(r"charset=[\"']?([\w.:-]+)", content_type or "", re.IGNORECASE)
    if match:
        try:
            "".encode(match.group(1))
            return match.group(1)
        except LookupError:
            pass
    return "utf-8"
