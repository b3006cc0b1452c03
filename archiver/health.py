"""Health: capture -> status. Tell a live page from one that only looks alive.

The fetcher says what the server answered. This stage says what the answer means:

- a **soft-404**: the page answers 2xx but its own title or heading says it is not there
  (and it is short); or a deep link was redirected to its site's front page; or the page
  is what the site answers for a path that cannot exist (the probe, at a path derived
  from the site); a deep link sent to a login page is "unknown, needs a human";
- a **parked domain**: a for-sale or placeholder page from a parking service;
- a **bot wall**: a challenge page (Cloudflare, captchas ...) stands in front of the
  content; like 401, 403 and a 429 that never cleared, it is "unknown, needs a human",
  never dead;
- an http -> https upgrade on the same host and path is simply ok;
- **drift**: the page's text changed substantially since its last full capture (a
  changed date, counter or advert does not count); the status stands, the result says
  since when.

Each of these is a rule in `RULES`, an ordered tuple of small functions from the
evidence (the result, its page, what the site answers for a page that cannot exist,
the page's last capture) to a finding; the first finding with a status decides it.
Pages are read from the captured body by `archiver.pages` (once, off the event loop),
and the page goes on with the capture, for the requisites.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from posixpath import splitext
from urllib.parse import unquote, urlsplit, urlunsplit

from rapidfuzz.distance import Indel

from archiver.model import (
    NOT_MODIFIED,
    Capture,
    Exchange,
    FetchBackend,
    FetchResult,
    Page,
    PriorCapture,
    RecordLocation,
    Status,
)
from archiver.pack import read_answer
from archiver.pages import READ_LIMIT, TEXT_LIMIT, page_of, page_or_none, read_page_off_loop
from archiver.sites import on_host, site_key
from archiver.times import utc_iso

__all__ = [
    "RULES",
    "Classifier",
    "Evidence",
    "Finding",
    "Needs",
    "Page",
    "Rule",
    "judge_content",
    "needs_probe",
    "page_of",
    "probe_url",
    "stored_page",
    "text_similarity",
]

_COMPARED_CHARACTERS = TEXT_LIMIT  # all of the text a page keeps
SIMILAR_ENOUGH = 0.9  # pages this alike (0 to 1: `text_similarity`, words in common) are the same page
DRIFTED_BELOW = 0.8  # a page whose text is less alike than this to its last capture has drifted

_WORD = re.compile(r"\w+")
_PROBE_KEY = "archiver: the soft-404 probe of a site"  # the probe's name is a hash of this and the site
SHORT_PAGE = 1500  # characters of visible text: a placeholder, a challenge, an error page
# A page whose title or heading says "not found" is one, unless its text is this long: an
# article about error pages, not an error page wrapped in a site's template.
MISSING_PAGE_TEXT = 6000
# "404" as an error code: "error 404" in a few languages, "HTTP 404", "404 not found", a
# title that is "404" or ends in " | 404"; not "Boeing 737-404", "Atlanta (404)", "$404.99".
_ERROR_404 = (
    r"\b(error|erreur|fehler|errore|erro|fout|http)( code)?\s*:?\s*404\b|\b404\s*(error|page|not\b|[.!](?!\d))"
    r"|^\s*404\b|\s[-\u2013\u2014|:\u00b7]\s*404\s*$"
)
_NOT_FOUND_HEADINGS = re.compile(
    rf"\bnot found\b|{_ERROR_404}"
    r"|page (you )?(requested|were looking for)|(page|post|article) (doesn.t|does not) exist"
    r"|no longer (available|exists)|nicht gefunden|introuvable|no encontrad[ao]|non trovat[ao]|niet gevonden"
    r"|n[ãa]o encontrad[ao]",
    re.IGNORECASE,
)
_FRONT_PATHS = re.compile(r"^/(?:(?:index|default|home)(?:\.\w+)?|[a-z]{2}(?:[-_][a-z]{2})?/?)?$", re.IGNORECASE)
_LOGIN_PATHS = re.compile(r"(^|/)(log-?in|sign-?in|signin|sign_in|wp-login\.php|auth(enticate)?|sso)(/|$|\.)", re.I)

# Parking services and domain marketplaces: phrases of their pages (read in the title,
# or anywhere in a short page) and the scripts they load.
_PARKED_PHRASES = re.compile(
    r"this domain (name )?(is|may be) for sale|buy this domain|the domain .{0,40} is for sale|domain (is )?parked"
    r"|parked (free|domain)|this (web )?page is parked|domain for sale"
)
_PARKING_SCRIPTS = re.compile(r"(sedoparking|parkingcrew|bodis|above\.com)[./]")  # in a script's address
_PARKING_HOSTS = ("sedo.com", "dan.com", "afternic.com", "hugedomains.com", "parkingcrew.net", "bodis.com")
# Challenge pages: their titles and the phrases of their short bodies. Looked for only
# in answers that refused the content (401, 403, 429, 503) or in short pages.
_WALL_TITLES = re.compile(r"^(just a moment|attention required|access denied|are you a robot|security check"
                          r"|ddos-guard|one more step|please wait)")  # fmt: skip
_WALL_PHRASES = re.compile(
    r"checking your browser|enable (javascript and )?cookies to continue|verify (that )?you are (a )?human"
    r"|are you a robot|ddos protection by|request unsuccessful\. incapsula"
)
_REFUSING_CODES = frozenset({401, 403, 429, 503})
# What "not found" pages say, which a page that merely shares a template does not.
# One of these stands in every match of _MISSING_PHRASES, which starts at most _BEFORE_KEYWORD
# characters before it ("erreur code : 404", "couldn't be found") and ends well within
# _AFTER_KEYWORD after it (a page's text has its spaces folded).
_MISSING_KEYWORDS = ("foun", "404", "exist", "no longer", "find", "not here", "page you", "oops")
_BEFORE_KEYWORD, _AFTER_KEYWORD = 40, 80
_MISSING_PHRASES = re.compile(
    rf"not found|{_ERROR_404}|doesn.t exist|does not exist"
    r"|no longer (available|exists)|could(n.t| not) (be )?found?|(can.t|cannot|could(n.t| not)|unable to) find"
    r"|can(no|.)t be found|not here|page you (were )?(looking for|requested)|nothing (was )?found|oops"
)


def stored_page(folder: Path, location: RecordLocation) -> Page | None:
    """The page of an answer stored in the WARC files of `folder`; None when it cannot be read."""
    answer = read_answer(folder, location, READ_LIMIT)
    if answer.problem or not answer.body:
        return None
    return page_or_none(
        answer.body, answer.header("Content-Encoding"), answer.header("Content-Type"), location.target_uri
    )


@dataclass(frozen=True)
class MissingPage:
    """What a site answers for a page that cannot exist, when it does not say 404."""

    page: Page
    path: str
    final_url: str
    sent_elsewhere: bool  # redirected to another page, not merely to https or a trailing slash
    words: tuple[str, ...]  # the words of its page that `similarity` compares, found once per site
    says_missing: bool  # its page says something is missing (read once per site)


@dataclass(frozen=True)
class Evidence:
    """What the rules judge one answer by."""

    result: FetchResult
    page: Page
    missing: MissingPage | None = None  # None when the site says 404 for what does not exist, or was not asked
    earlier: Page | None = None  # the last full capture's page, when its payload differs from this one
    earlier_at: str = ""  # when that capture was made, ISO 8601


@dataclass(frozen=True)
class Finding:
    """What a rule makes of the evidence: a status with its detail; or, with status None,
    only a drift note (`drifted_from`) that leaves the status as it is."""

    status: Status | None
    detail: str = ""
    drifted_from: str = ""


class Needs(Enum):
    """What a rule needs beyond the answer and its page, which the classifier fetches first."""

    PAGE_ONLY = "page-only"
    PROBE = "probe"  # the site's answer for a page that cannot exist; asked only for a 2xx not yet decided
    EARLIER = "earlier"  # the page of the URL's last full capture


@dataclass(frozen=True)
class Rule:
    """One health rule: a small function from evidence to a finding (None: no opinion)."""

    judge: Callable[[Evidence], Finding | None]
    needs: Needs = Needs.PAGE_ONLY


def parked_by_redirect(evidence: Evidence) -> Finding | None:
    """Redirected to a domain marketplace on another host: parked."""
    final_host = site_key(evidence.result.final_url)
    on_marketplace = any(on_host(final_host, host) for host in _PARKING_HOSTS)
    if on_marketplace and final_host != site_key(evidence.result.url):
        return Finding(Status.PARKED, f"redirected to the domain marketplace {final_host}")
    return None


def bot_wall(evidence: Evidence) -> Finding | None:
    """A challenge page stands in front of the content."""
    page = evidence.page
    if _is_wall(evidence.result.code, page):
        return Finding(Status.BOT_WALL, f"a challenge page answered ({page.title or 'untitled'}); needs a human")
    return None


def parked_page(evidence: Evidence) -> Finding | None:
    """A 2xx parking or for-sale page."""
    code, page = evidence.result.code, evidence.page
    if code is not None and 200 <= code < 300 and _is_parked(page):
        return Finding(Status.PARKED, f"a parking page answered ({page.title or 'untitled'})")
    return None


def says_missing(evidence: Evidence) -> Finding | None:
    """A 2xx page whose own title or main heading says it is not there, and whose text is
    not long enough to be an article (about 404 pages, say)."""
    code, page = evidence.result.code, evidence.page
    if code is None or not 200 <= code < 300 or len(page.text) >= MISSING_PAGE_TEXT:
        return None
    said = next((line for line in (page.title, page.heading) if _NOT_FOUND_HEADINGS.search(line)), None)
    return Finding(Status.SOFT_404, f"the page says it is not there ({said})") if said else None


def sent_to_front_page(evidence: Evidence) -> Finding | None:
    """A deep link redirected to the front page of its own site: what it named is gone. A
    deep link sent to a login page needs a human."""
    result = evidence.result
    if result.status is not Status.REDIRECTED or _is_front_page(result.url):
        return None
    if site_key(result.final_url) != site_key(result.url):
        return None
    if _is_front_page(result.final_url):
        return Finding(Status.SOFT_404, f"a deep link sent to the site's front page, {result.final_url}")
    if _LOGIN_PATHS.search(urlsplit(result.final_url).path) and not _LOGIN_PATHS.search(urlsplit(result.url).path):
        return Finding(Status.ACCESS_DENIED, f"sent to a login page, {result.final_url}; needs a human")
    return None


def soft_404(evidence: Evidence) -> Finding | None:
    """Answers like the site's page for what does not exist, or was sent where missing pages go."""
    missing, result = evidence.missing, evidence.result
    if missing is None:  # the site says 404 for what does not exist: its 200s are real
        return None
    if missing.sent_elsewhere:  # the site sends missing pages somewhere: did it send this one there?
        if _is_front_page(result.url):  # a link to the front page, sent on to where the front page now is
            return None
        if len(result.hops) > 1 and _same_place(result.final_url, missing.final_url):
            return Finding(Status.SOFT_404, f"redirected where missing pages go, {missing.final_url}")
        return None
    if _looks_missing(evidence.page, missing, urlsplit(result.url).path):
        return Finding(Status.SOFT_404, "answers like a page that cannot exist on the same site")
    return None


def upgraded_to_https(evidence: Evidence) -> Finding | None:
    """Redirected from http to https on the same host and path only: simply ok."""
    return Finding(Status.OK, "upgraded to https") if _only_upgraded(evidence.result) else None


def drifted(evidence: Evidence) -> Finding | None:
    """The text changed substantially since the last full capture."""
    if evidence.earlier is None or not drift(evidence.page, evidence.earlier):
        return None
    return Finding(None, drifted_from=evidence.earlier_at)


# The rules, in order: the first finding with a status decides it. A new rule goes here.
RULES: tuple[Rule, ...] = (
    Rule(parked_by_redirect),
    Rule(bot_wall),
    Rule(parked_page),
    Rule(says_missing),
    Rule(sent_to_front_page),
    Rule(soft_404, Needs.PROBE),
    Rule(upgraded_to_https),
    Rule(drifted, Needs.EARLIER),
)


def judge_content(result: FetchResult, page: Page) -> Finding | None:
    """The first status finding of the rules that need nothing but the answer and its page."""
    evidence = Evidence(result, page)
    findings = (rule.judge(evidence) for rule in RULES if rule.needs is Needs.PAGE_ONLY)
    return next((finding for finding in findings if finding is not None and finding.status is not None), None)


def apply_findings(result: FetchResult, findings: list[Finding]) -> FetchResult:
    """The result with the first finding's status and every finding's notes."""
    decided = next((finding for finding in findings if finding.status is not None), None)
    drifted_from = next((finding.drifted_from for finding in findings if finding.drifted_from), "")
    if decided is not None and decided.status is not None:
        result = replace(result, status=decided.status, detail=decided.detail)
    return replace(result, drifted_from=drifted_from) if drifted_from else result


StoredPageReader = Callable[[RecordLocation], Page | None]


class Classifier:
    """Sorts fetch results into health statuses by the rules, probing a site (once) for
    its soft-404 only when one of its pages could be one (`needs_probe`), and reading a
    URL's last capture only when a rule needs it."""

    def __init__(
        self,
        backend: FetchBackend,
        prior_captures: Mapping[str, PriorCapture] | None = None,
        stored_page_of: StoredPageReader | None = None,
        rules: tuple[Rule, ...] = RULES,
        *,
        requisites: bool = True,
    ) -> None:
        """`prior_captures` holds each URL's last full capture, whose page `stored_page_of`
        reads when a rule needs it (drift). Each page's requisites are read from it only
        with `requisites` (no rule needs them, only the fetching of requisites)."""
        self._requisites = requisites
        self._backend = backend
        self._prior_captures = prior_captures if prior_captures is not None else {}  # may be read a URL at a time
        self._stored_page_of = stored_page_of
        self._rules = rules
        self._probes: dict[str, asyncio.Task[MissingPage | None]] = {}

    async def finish(self, capture: Capture) -> Capture:
        """The capture, its result classified and its final answer read as a page (a
        `fetch_all` finisher)."""
        final = capture.final
        if final is None or capture.result.code in (None, NOT_MODIFIED):
            return capture  # nothing to read (a 304 Not Modified: the page is the one captured before)
        page = await read_page_off_loop(final, requisites=self._requisites)
        return replace(capture, result=await self.judged(capture.result, final, page), page=page)

    async def classify(self, capture: Capture) -> FetchResult:
        """The capture's result with the status its content shows."""
        return (await self.finish(capture)).result

    async def judged(self, result: FetchResult, final: Exchange, page: Page) -> FetchResult:
        """The result with the status the rules find in its page."""
        evidence = Evidence(result, page)
        findings: list[Finding] = []
        for rule in self._rules:
            decided = any(finding.status is not None for finding in findings)
            evidence = await self._gathered(evidence, rule.needs, final, decided)
            finding = rule.judge(evidence)
            findings += [finding] if finding is not None else []
        return apply_findings(result, findings)

    async def _gathered(self, evidence: Evidence, needs: Needs, final: Exchange, decided: bool) -> Evidence:
        """The evidence with what the next rule needs, fetched once."""
        if needs is Needs.PROBE and not decided and evidence.missing is None and _probe_can_help(evidence):
            return replace(evidence, missing=await self._missing_page(evidence.result.url))
        if needs is Needs.EARLIER and evidence.earlier is None:
            return await self._with_earlier(evidence, final)
        return evidence

    async def _with_earlier(self, evidence: Evidence, final: Exchange) -> Evidence:
        """The evidence with the page of the URL's last full capture, when it can have drifted."""
        prior = self._prior_captures.get(evidence.result.url)
        if prior is None or self._stored_page_of is None or not _worth_comparing(evidence.result, final, prior):
            return evidence
        page = await asyncio.to_thread(self._stored_page_of, prior.stored_at)
        return replace(evidence, earlier=page, earlier_at=utc_iso(prior.captured_at))

    async def _missing_page(self, url: str) -> MissingPage | None:
        origin, extension = _origin_and_extension(url)
        key = f"{origin}/*{extension}"  # one probe per site and kind of page
        if key not in self._probes:
            self._probes[key] = asyncio.ensure_future(self._probe(probe_url(origin, extension)))
        return await self._probes[key]

    async def _probe(self, url: str) -> MissingPage | None:
        """What the site answers for a path that cannot exist; None when it says so (4xx)."""
        capture = await self._backend.fetch(url, urgent=True)  # every capture of the site waits on it
        try:
            code, final = capture.result.code, capture.final
            if code is None or not 200 <= code < 300 or final is None:
                return None
            final_url = capture.result.final_url
            page = await read_page_off_loop(final, requisites=False)  # a probe's answer is not stored
            path = urlsplit(url).path
            elsewhere = not _same_place(url, final_url)
            return MissingPage(page, path, final_url, elsewhere, _words(page, path), _says_something_is_missing(page))
        finally:
            capture.close()


def needs_probe(result: FetchResult, page: Page) -> bool:
    """Whether the site's answer for a page that cannot exist could change this verdict:
    the link was sent elsewhere (does the site send missing pages there too?), or the page
    says something is missing (is it the site's "not found" page?). A page that says no
    such thing cannot be that page, whatever the site answers, so its site is not asked."""
    moved = len(result.hops) > 1 and not _same_place(result.url, result.final_url)
    return moved or _says_something_is_missing(page)


def _probe_can_help(evidence: Evidence) -> bool:
    code = evidence.result.code or 0
    return 200 <= code < 300 and needs_probe(evidence.result, evidence.page)


def _says_something_is_missing(page: Page) -> bool:
    """The page's title or heading says it is not there, or its text says something is missing."""
    said = (_NOT_FOUND_HEADINGS.search(line) for line in (page.title, page.heading))
    return any(said) or bool(_MISSING_PHRASES.search(page.title.lower())) or text_says_missing(page.text)


def text_says_missing(text: str) -> bool:
    """Whether `_MISSING_PHRASES` is found in `text`, looked for only around the words
    every one of its phrases holds. (Searched whole, the pattern costs about 1 ms per 9 KB
    of text, a seventh of a run's time on the event loop: Python's regular expressions try
    every alternative at every character.)"""
    for keyword in _MISSING_KEYWORDS:
        at = text.find(keyword)
        while at >= 0:
            near = _MISSING_PHRASES.search(text, max(0, at - _BEFORE_KEYWORD), at + _AFTER_KEYWORD)
            if near is not None and _MISSING_PHRASES.match(text, near.start()):  # again, with all that follows
                return True
            at = text.find(keyword, at + 1)
    return False


def probe_url(origin: str, extension: str) -> str:
    """The address of a page that cannot exist on the site at `origin` (scheme://host:port),
    with the given extension: the same in every run and process, so that two runs over the
    same web ask the same question; no real page is named so."""
    digest = hashlib.sha256(f"{_PROBE_KEY}\n{origin}\n{extension}".encode()).hexdigest()
    return f"{origin}/archiver-probe-{digest[:16]}{extension}"


def _worth_comparing(result: FetchResult, final: Exchange, prior: PriorCapture) -> bool:
    """Only an HTML answer whose payload differs from its last capture's can have drifted."""
    return prior.payload_digest != result.payload_digest and "html" in (final.header("Content-Type") or "")


def similarity(page: Page, other: Page, page_path: str = "", other_path: str = "") -> float:
    """How alike two pages are, from 0 to 1 (`text_similarity` of their texts), ignoring
    numbers (dates, counters, ids) and the path each was asked for, which a "not found"
    page often repeats."""
    return _words_similarity(_words(page, page_path), _words(other, other_path))


def text_similarity(text: str, other: str) -> float:
    """How alike two texts are, from 0 to 1: twice the words they have in common, in
    order (their longest common subsequence of words), over the words of both; 1 for two
    texts without words. Punctuation is not a word.

    Words, not characters: two unrelated texts of one language share many characters in
    order by chance (about 0.45 of them) but few words, so a ratio of words keeps the
    scale of difflib's ratio of characters, which counts only matched blocks. rapidfuzz
    computes it bit-parallel, after setting aside the start and end the texts share: near
    linear in the text for texts that mostly agree, the usual case."""
    return _words_similarity(_WORD.findall(text), _WORD.findall(other))


def _words_similarity(words: Sequence[str], other: Sequence[str]) -> float:
    if words == other:
        return 1.0
    return float(Indel.normalized_similarity(words, other))


def _words(page: Page, path: str) -> tuple[str, ...]:
    """The words `similarity` compares: of the text, without numbers or the path asked for."""
    return tuple(_WORD.findall(_comparable(page, path)))


def _is_front_page(url: str) -> bool:
    """The URL names a site's front page: `/`, `/index.*`, `/home`, a locale root (`/en/`)."""
    parts = urlsplit(url)
    return not parts.query and bool(_FRONT_PATHS.match(parts.path or "/"))


def _is_wall(code: int | None, page: Page) -> bool:
    title = page.title.lower()
    if code in _REFUSING_CODES:
        return bool(_WALL_TITLES.search(title) or _WALL_PHRASES.search(page.text))
    return len(page.text) < SHORT_PAGE and bool(_WALL_TITLES.search(title))


def _is_parked(page: Page) -> bool:
    short = len(page.text) < SHORT_PAGE
    return (
        bool(_PARKED_PHRASES.search(page.title.lower()))
        or (short and bool(_PARKED_PHRASES.search(page.text)))
        or any(_PARKING_SCRIPTS.search(script.lower()) for script in page.scripts)
    )


def _looks_missing(page: Page, missing: MissingPage, path: str) -> bool:
    """The page is the site's "not found" page: the same title, nearly the same text, and
    that text says something is missing (a page that only shares a template does not)."""
    return (
        missing.says_missing
        and page.title.lower() == missing.page.title.lower()
        and _words_similarity(_words(page, path), missing.words) >= SIMILAR_ENOUGH
    )


def _same_place(url: str, other: str) -> bool:
    """Two URLs name the same page, whatever the scheme, a `www.` or a trailing slash."""

    def key(address: str) -> tuple[str, str, str]:
        parts = urlsplit(address)
        return site_key(address), parts.path.rstrip("/") or "/", parts.query

    return key(url) == key(other)


def _only_upgraded(result: FetchResult) -> bool:
    if result.status is not Status.REDIRECTED:
        return False
    asked, landed = urlsplit(result.url), urlsplit(result.final_url)
    return (asked.scheme, landed.scheme) == ("http", "https") and (asked.hostname, asked.path, asked.query) == (
        landed.hostname,
        landed.path,
        landed.query,
    )


def _origin_and_extension(url: str) -> tuple[str, str]:
    """The URL's site (scheme://host:port) and its file extension, which a probe copies so
    that the same part of the server answers it."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "", "", "")), splitext(parts.path.rsplit("/", 1)[-1])[1]


def _comparable(page: Page, path: str) -> str:
    text = page.text
    for echoed in {unquote(path).lower(), unquote(path).lower().strip("/")} - {""}:
        text = text.replace(echoed, " ")
    text = re.sub(r"archiver-probe-[0-9a-f]+|\d+", " ", text)
    return " ".join(text.split())[:_COMPARED_CHARACTERS]


def drift(now: Page, before: Page) -> bool:
    """The text changed substantially: more than a changed date, counter or advert."""
    return similarity(now, before) < DRIFTED_BELOW
