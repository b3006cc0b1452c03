"""The post the project was specified from yields exactly its 13 outbound URLs."""

from __future__ import annotations

from archiver.model import LinkKind
from tests.conftest import SEED_POST, extract_one

EXPECTED = [
    ("http://www.emc.com/about/news/press/2014/20141028-02.htm", 25, LinkKind.LINK),
    ("http://www.slideshare.net/randybias/clouds-openness-and-it-patterns-for-nist", 33, LinkKind.LINK),
    (
        "http://www.cloudscaling.com/blog/cloud-computing/cloud-innovators-netflix-strategy-reflects-google-philosophy/",
        33,
        LinkKind.LINK,
    ),
    (
        "http://www.cloudscaling.com/wp-content/uploads/2014/10/Cloudscaling-OCS-Product-Deck-2014-08-17-DRAFT.083.jpg",
        37,
        LinkKind.IMAGE,
    ),
    ("http://en.wikipedia.org/wiki/DevOps", 39, LinkKind.LINK),
    ("http://www.cloudscaling.com/blog/cloud-computing/pets-vs-cattle-the-elastic-cloud-story/", 39, LinkKind.LINK),
    (
        "http://www.cloudscaling.com/wp-content/uploads/2014/10/"
        "6-Requirements-for-Enterprise-grade-OpenStack-Supporting-Material.003.jpg",
        43,
        LinkKind.IMAGE,
    ),
    ("http://www.emc.com/about/news/press/2010/20101115-01.htm", 45, LinkKind.LINK),
    ("https://en.wikipedia.org/wiki/The_Innovator's_Dilemma", 50, LinkKind.LINK),
    ("http://www.cloudscaling.com/products/ocs-system-overview/", 54, LinkKind.LINK),
    ("http://www.channelregister.co.uk/2014/10/15/core_divisional_duo_at_emc/", 59, LinkKind.LINK),
    ("http://www.cloudscaling.com/wp-content/uploads/2014/10/randyb-signature-page11.gif", 78, LinkKind.IMAGE),
    ("http://cloudarchitectmusings.com/2014/10/28/what-emc-is-up-to-with-openstack-solutions/", 88, LinkKind.LINK),
]


def test_seed_post_yields_exactly_the_thirteen_outbound_urls_with_lines_and_kinds() -> None:
    extraction = extract_one(SEED_POST)

    found = [(link.url, link.occurrences[0].line, link.kind) for link in extraction.links]

    assert found == EXPECTED
    assert all(len(link.occurrences) == 1 for link in extraction.links)
    assert extraction.problems == ()


def test_seed_post_address_is_recorded_and_not_an_outbound_link() -> None:
    extraction = extract_one(SEED_POST)

    (post,) = extraction.posts
    assert post.address == "http://cloudscaling.com/blog/cloud-computing/an-openstack-dream-team/"
    assert post.title == "An OpenStack Dream Team: EMC + Cloudscaling"
    assert post.date is not None
    assert post.date.isoformat() == "2014-10-28"
    assert post.link_count == 13
    assert all("an-openstack-dream-team" not in link.url for link in extraction.links)


def test_seed_post_marks_the_blog_own_host_internal_with_or_without_www() -> None:
    extraction = extract_one(SEED_POST)

    internal = {link.url for link in extraction.links if link.internal}

    assert internal == {url for url, _, _ in EXPECTED if "cloudscaling.com" in url}
    assert len(internal) == 6


def test_seed_post_keeps_link_and_alt_text() -> None:
    extraction = extract_one(SEED_POST)

    texts = [link.occurrences[0].text for link in extraction.links]

    assert texts[0] == "announcements by EMC today"
    assert texts[3] == "Cloudscaling OCS Product Deck - 2014-08-17 - DRAFT.083"
    assert texts[5] == "“pets vs. cattle” meme"
