"""HTML pages of realistic size and shape, deterministic from a seed, different per seed.

    page(seed, kilobytes) -> bytes

A page is what a blog post or a news article looks like on the wire: a head with
stylesheets, an icon, a preload, scripts (one inline) and an inline style; a navigation
menu; an article of sections whose paragraphs carry inline links, emphasis, code and
entities, with lists, tables, figures (`<img srcset>`, `<picture><source srcset>`), now
and then a video poster; comments; an aside of related links; a footer; a search form
with an image button. Text mixes English words with some non-ASCII ones. Each seed gives
other words, other links and other requisites, so no two pages are alike. A 100 KB page
holds about 2,500 elements.

The requisites are same-host paths under /style/, /img/ and /js/, which
bench/latency_server.py answers with small CSS, PNG and JavaScript bodies.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import cache

_PROSE = (
    "archive link page server answer request record history capture body header status redirect content "
    "network library reader writer table figure paragraph section article author editor summary report "
    "the of and to in is that for it as was with be by on not he this are or his from at which but have an "
    "they you were her she there been one all we their has would when if so what no out up more into do can "
    "time year people way day man thing woman life child world school state family student group country "
    "problem hand part place case week company system program question work government number night point "
    "home water room mother area money story fact month lot right study book eye job word business issue"
)
_WORDS = _PROSE.split()
_FOREIGN = ("café", "naïve", "Zürich", "façade", "Ελλάδα", "東京", "São Paulo", "Kraków", "résumé", "jalapeño")
_ENTITIES = ("&amp;", "&mdash;", "&nbsp;", "&#8217;", "&laquo;", "&raquo;", "&hellip;", "&eacute;", "&copy;")
_INLINE_STYLE = "body{margin:0;font:16px/1.5 Georgia,serif}.nav a{color:#036;padding:0 .5em}" * 8
_INLINE_SCRIPT = (
    "window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments)}"
    "gtag('js',new Date());gtag('config','G-XXXX');var t='<p>not text</p>';"
) * 6

CSS = b"body{margin:0;font:16px/1.5 serif}a{color:#036}\n" * 8
JS = b"document.documentElement.className+=' js';\n" * 8
PNG = bytes.fromhex(  # a 1x1 transparent PNG
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63f8ffff3f0005fe02fea7d6a4a00000000049454e44ae426082"
)


_SEED = "@seed@"  # stands for the page's seed in the pooled sections
_POOL = 600  # sections drawn from; a 500 KB page takes about 170 of them


def page(seed: int, kilobytes: int) -> bytes:
    """A page of about `kilobytes` KB (a little over), the same for the same seed."""
    draw = random.Random(seed * 7919 + kilobytes)
    parts = [_head(draw, seed), _nav(draw, seed), "<main><article>"]
    size = sum(len(part) for part in parts)
    for index in draw.sample(range(_POOL), _POOL):
        if size >= kilobytes * 1000 - 2500:
            break
        parts.append(_sections()[index])
        size += len(parts[-1])
    parts += ["</article>", _aside(draw, seed), "</main>", _footer(draw, seed), "</body></html>\n"]
    return "".join(parts).replace(_SEED, str(seed)).encode("utf-8")


@cache
def _sections() -> tuple[str, ...]:
    """The article sections pages are made of, made once (a page is assembled in well
    under a millisecond, so that the server is not what a benchmark measures); their
    links and requisites name the page's seed, so that they differ from page to page."""
    draw = random.Random(0)
    return tuple(_section(draw, _SEED, number) for number in range(1, _POOL + 1))


def _words(draw: random.Random, count: int) -> str:
    words = draw.choices(_WORDS, k=count)
    if draw.random() < 0.3:
        words[draw.randrange(count)] = draw.choice(_FOREIGN)
    return " ".join(words)


def _title(draw: random.Random) -> str:
    return _words(draw, draw.randint(3, 8)).capitalize()


def _href(draw: random.Random, seed: int | str) -> str:
    kind = draw.random()
    if kind < 0.5:
        return f"/{draw.choice(_WORDS)}/{seed}-{draw.randrange(10**6)}.html"
    if kind < 0.8:
        return f"https://{draw.choice(_WORDS)}.example.org/{draw.choice(_WORDS)}?id={draw.randrange(10**5)}&amp;ref=a"
    return f"#{draw.choice(_WORDS)}-{draw.randrange(100)}"


def _head(draw: random.Random, seed: int) -> str:
    title = _title(draw)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title} &mdash; The {draw.choice(_WORDS).capitalize()} Review</title>"
        f'<meta name="description" content="{_words(draw, 20)}">'
        f'<link rel="stylesheet" href="/style/site-{seed % 5}.css">'
        f'<link rel="stylesheet" href="/style/page-{seed}.css" media="screen">'
        f'<link rel="icon" href="/img/favicon-{seed % 3}.png" type="image/png">'
        f'<link rel="preload" href="/style/font-{seed % 2}.woff2" as="font" crossorigin>'
        f'<link rel="alternate" type="application/rss+xml" href="/feed-{seed}.xml">'
        f'<link rel="canonical" href="/post/{seed}.html">'
        f'<script src="/js/app-{seed % 4}.js" defer></script>'
        f"<style>{_INLINE_STYLE}</style><script>{_INLINE_SCRIPT}</script>"
        "<!-- analytics: consent given, see privacy page -->"
        '</head>\n<body class="post">'
    )


def _nav(draw: random.Random, seed: int) -> str:
    items = "".join(
        f'<li class="menu-item"><a href="{_href(draw, seed)}">{_words(draw, draw.randint(1, 3))}</a></li>'
        for _ in range(draw.randint(25, 40))
    )
    return (
        f'<header><a class="logo" href="/"><img src="/img/logo-{seed % 3}.png" alt="logo" width="120" height="40"></a>'
        f'<nav class="nav" aria-label="main"><ul>{items}</ul></nav></header>\n'
    )


def _inline(draw: random.Random, seed: int | str) -> str:
    kind = draw.random()
    words = _words(draw, draw.randint(1, 4))
    if kind < 0.45:
        return f'<a href="{_href(draw, seed)}">{words}</a>'
    if kind < 0.65:
        return f"<em>{words}</em>"
    if kind < 0.8:
        return f"<strong>{words}</strong>"
    if kind < 0.9:
        return f"<code>{draw.choice(_WORDS)}_{draw.randrange(100)}()</code>"
    return draw.choice(_ENTITIES)


def _paragraph(draw: random.Random, seed: int | str) -> str:
    pieces = []
    for _ in range(draw.randint(4, 9)):
        pieces.append(_words(draw, draw.randint(3, 12)))
        pieces.append(_inline(draw, seed))
    return f"<p>{' '.join(pieces)}.</p>\n"


def _list(draw: random.Random, seed: int | str) -> str:
    tag = draw.choice(("ul", "ol"))
    count = draw.randint(3, 8)
    items = "".join(f"<li>{_words(draw, draw.randint(3, 9))} {_inline(draw, seed)}</li>" for _ in range(count))
    return f"<{tag}>{items}</{tag}>\n"


def _table(draw: random.Random) -> str:
    columns = draw.randint(3, 5)
    head = "".join(f"<th>{draw.choice(_WORDS)}</th>" for _ in range(columns))
    rows = "".join(
        "<tr>" + "".join(f"<td>{draw.randrange(10**4)}</td>" for _ in range(columns)) + "</tr>"
        for _ in range(draw.randint(4, 10))
    )
    return f'<table class="data"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>\n'


def _figure(draw: random.Random, seed: int | str, section: int) -> str:
    name = f"/img/{seed}-{section}"
    caption = _words(draw, draw.randint(4, 10))
    if draw.random() < 0.5:
        return (
            f'<figure><img src="{name}.png" srcset="{name}-2x.png 2x, {name}-3x.png 3x" alt="{caption}" '
            f'loading="lazy"><figcaption>{caption}</figcaption></figure>\n'
        )
    return (
        f'<figure><picture><source srcset="{name}.webp 1x, {name}-2x.webp 2x" type="image/webp">'
        f'<img src="{name}.jpg" alt="{caption}"></picture><figcaption>{caption}</figcaption></figure>\n'
    )


def _section(draw: random.Random, seed: int | str, section: int) -> str:
    blocks = [f'<section id="s{section}"><h2>{_title(draw)}</h2>\n']
    blocks += [_paragraph(draw, seed) for _ in range(draw.randint(2, 5))]
    extras: list[Callable[[], str]] = [
        lambda: _list(draw, seed),
        lambda: _table(draw),
        lambda: _figure(draw, seed, section),
        lambda: f"<blockquote><p>{_words(draw, 25)}</p></blockquote>\n",
        lambda: f"<!-- section {section} edited {draw.randrange(10**6)} -->\n",
    ]
    blocks += [draw.choice(extras)() for _ in range(draw.randint(1, 3))]
    if draw.random() < 0.05:
        blocks.append(f'<video controls poster="/img/poster-{seed}-{section}.jpg"></video>\n')
    if draw.random() < 0.05:
        blocks.append(f'<noscript><img src="/img/pixel-{seed}.gif" alt=""></noscript>\n')
    blocks.append("</section>\n")
    return "".join(blocks)


def _aside(draw: random.Random, seed: int) -> str:
    related = "".join(
        f'<li><a href="{_href(draw, seed)}">{_title(draw)}</a> '
        f'<time datetime="2024-0{draw.randint(1, 9)}-1{draw.randint(0, 9)}">{draw.randint(1, 28)} days ago</time></li>'
        for _ in range(draw.randint(8, 15))
    )
    return f'<aside class="related"><h2>Related</h2><ul>{related}</ul></aside>\n'


def _footer(draw: random.Random, seed: int) -> str:
    links = " | ".join(f'<a href="{_href(draw, seed)}">{draw.choice(_WORDS)}</a>' for _ in range(draw.randint(10, 20)))
    return (
        f'<footer><form action="/search" role="search"><input type="search" name="q">'
        f'<input type="image" src="/img/search-{seed % 2}.png" alt="search"></form>'
        f"<p>{links}</p><p>&copy; 2024 {_words(draw, 4)}. All rights reserved.</p>"
        f'<script>document.querySelector(".nav").dataset.ready="{seed}";</script></footer>\n'
    )
