"""A markdown-it plugin that reads the WordPress shortcodes which cite URLs.

WordPress exports keep shortcodes such as `[embed width="600"]https://…[/embed]`,
`[caption id="…" caption="…"]…[/caption]`, `[video mp4="…"]`, `[audio mp3="…"]` and
Jetpack's `[youtube https://…]` in the post body. Left to Markdown they are plain text,
and a bare-URL detector would swallow the closing `[/embed]` into the URL. This inline
rule runs before links and bare URLs, and turns each one into a token:

- `wp_shortcode` for a shortcode that cites URLs; `meta["urls"]` lists
  `(url, kind)` pairs, `meta["spans"]` where each URL is in the inline source,
  `meta["range"]` where the shortcode is, and `content` is the shortcode's source;
- `wp_caption_open` / `wp_caption_close` around a caption, whose text is in
  `meta["caption"]`; what is inside is parsed as usual.

Attributes follow WordPress's own `shortcode_parse_atts` grammar.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline

from archiver.model import LinkKind

_OPENING = re.compile(r"\[(/?)([a-z_]+)(?=[\s\]=/])")
_ATTRIBUTE = re.compile(
    r"""([\w-]+)\s*=\s*"([^"]*)"(?:\s|$)"""
    r"""|([\w-]+)\s*=\s*'([^']*)'(?:\s|$)"""
    r"""|([\w-]+)\s*=\s*([^\s'"]+)(?:\s|$)"""
    r"""|"([^"]*)"(?:\s|$)"""
    r"""|'([^']*)'(?:\s|$)"""
    r"""|(\S+)(?:\s|$)"""
)
_ENCLOSING_URL = {"embed": LinkKind.EMBED}
_URL_ATTRIBUTES = {
    "video": {
        "src": LinkKind.MEDIA,
        "mp4": LinkKind.MEDIA,
        "m4v": LinkKind.MEDIA,
        "webm": LinkKind.MEDIA,
        "ogv": LinkKind.MEDIA,
        "wmv": LinkKind.MEDIA,
        "flv": LinkKind.MEDIA,
        "poster": LinkKind.IMAGE,
    },
    "audio": {
        "src": LinkKind.MEDIA,
        "mp3": LinkKind.MEDIA,
        "m4a": LinkKind.MEDIA,
        "ogg": LinkKind.MEDIA,
        "wav": LinkKind.MEDIA,
        "wma": LinkKind.MEDIA,
    },
}
_POSITIONAL_URL = {"youtube": LinkKind.EMBED, "vimeo": LinkKind.EMBED, "embed": LinkKind.EMBED}
_CAPTION = "caption"

Found = list[tuple[str, LinkKind]]
Range = tuple[int, int]


def shortcode_plugin(md: MarkdownIt) -> None:
    """Register the shortcode rule ahead of Markdown links and bare URLs."""
    md.inline.ruler.before("linkify", "wp_shortcode", _shortcode_rule)


def parse_attributes(text: str) -> tuple[dict[str, str], list[str]]:
    """Split a shortcode's attribute text into named and positional values."""
    named, positional = attribute_ranges(text)
    return {name: text[start:end] for name, (start, end) in named.items()}, [text[slice(*at)] for at in positional]


def attribute_ranges(text: str) -> tuple[dict[str, Range], list[Range]]:
    """Where each named and positional value of a shortcode's attribute text is in it."""
    named: dict[str, Range] = {}
    positional: list[Range] = []
    stripped = text.strip().lstrip("=")
    offset = len(text) - len(text.lstrip()) + len(text.strip()) - len(stripped)
    for match in _ATTRIBUTE.finditer(stripped):
        groups = match.groups()
        for name_index in (0, 2, 4):
            if groups[name_index] is not None:
                start, end = match.span(name_index + 2)
                named[groups[name_index].lower()] = (offset + start, offset + end)
                break
        else:
            index = next(i for i in range(6, 9) if groups[i] is not None)
            start, end = match.span(index + 1)
            positional.append((offset + start, offset + end))
    return named, positional


def _shortcode_rule(state: StateInline, silent: bool) -> bool:
    if state.src[state.pos] != "[":
        return False
    opening = _OPENING.match(state.src, state.pos, state.posMax)
    if opening is None:
        return False
    closing, name = opening.group(1) == "/", opening.group(2)
    if name == _CAPTION:
        return _caption(state, silent, opening.end(), closing)
    if closing or name not in _ENCLOSING_URL | _URL_ATTRIBUTES | _POSITIONAL_URL:
        return False
    return _url_shortcode(state, silent, name, opening.end())


def _tag_end(state: StateInline, start: int) -> int:
    """The index just past the `]` closing a tag, or -1 when the tag is not closed."""
    end = state.src.find("]", start, state.posMax)
    if end == -1 or state.src.startswith("(", end + 1):
        return -1  # `[embed](url)` is a Markdown link whose text is "embed"
    return end + 1


def _caption(state: StateInline, silent: bool, start: int, closing: bool) -> bool:
    end = _tag_end(state, start)
    if end == -1:
        return False
    if not silent:
        if closing:
            state.push("wp_caption_close", "", -1)
        else:
            named, _ = parse_attributes(state.src[start : end - 1])
            token = state.push("wp_caption_open", "", 1)
            token.meta = {"caption": named.get(_CAPTION, "")}
    state.pos = end
    return True


def _url_shortcode(state: StateInline, silent: bool, name: str, start: int) -> bool:
    end = _tag_end(state, start)
    if end == -1:
        return False
    attributes = state.src[start : end - 1]
    named, positional = attribute_ranges(attributes)
    found = [((start + s, start + e), kind) for (s, e), kind in _attribute_urls(name, named, positional, attributes)]
    if name in _ENCLOSING_URL:
        close_tag = f"[/{name}]"
        close_at = _find_closing(state, close_tag, end)
        if close_at != -1:
            found.insert(0, (stripped_range(state.src, end, close_at), _ENCLOSING_URL[name]))
            end = close_at + len(close_tag)
    found = [(span, kind) for span, kind in found if span[1] > span[0]]
    if not found:
        return False
    if not silent:
        token = state.push("wp_shortcode", "", 0)
        urls: Found = [(state.src[slice(*span)], kind) for span, kind in found]
        token.meta = {"name": name, "urls": urls, "spans": [span for span, _ in found], "range": (state.pos, end)}
        token.content = state.src[state.pos : end]
    state.pos = end
    return True


def stripped_range(text: str, start: int, end: int) -> Range:
    """`start:end` narrowed to leave out white space at either end."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _find_closing(state: StateInline, close_tag: str, start: int) -> int:
    """Where `close_tag` is, from `start` on; -1 when absent.

    A search that failed from some position fails from every later one, so that is
    remembered: many unclosed `[embed]` tags in one paragraph cost one search, not one each.
    """
    missing_after: dict[str, int] = state.env.setdefault("wp_missing_closing_tags", {})
    if start >= missing_after.get(close_tag, len(state.src) + 1):
        return -1
    found = state.src.find(close_tag, start, state.posMax)
    if found == -1 and state.posMax == len(state.src):
        missing_after[close_tag] = min(start, missing_after.get(close_tag, start))
    return found


def _attribute_urls(
    name: str, named: dict[str, Range], positional: list[Range], text: str
) -> list[tuple[Range, LinkKind]]:
    """Where the URLs of a shortcode's attributes are in its attribute text, with their kinds."""
    found = [(named[attr], kind) for attr, kind in _URL_ATTRIBUTES.get(name, {}).items() if attr in named]
    if name in _POSITIONAL_URL and positional and "://" in text[slice(*positional[0])]:
        found.append((positional[0], _POSITIONAL_URL[name]))
    if name in _POSITIONAL_URL and "url" in named:
        found.append((named["url"], _POSITIONAL_URL[name]))
    return found
