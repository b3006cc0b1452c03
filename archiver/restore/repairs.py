"""Point each post's citations of restored URLs at their new address, post by post."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from archiver.config import LinkStyle
from archiver.errors import InputError, OutputError
from archiver.model import Extraction, LinkKind
from archiver.restore.edit import Edit, EditKeptBesideError, apply_edit
from archiver.restore.rewrite import Replacement, plan_edit
from archiver.restore.values import Restoration


def repair_posts(
    extraction: Extraction, restorations: Sequence[Restoration], link_style: LinkStyle, dry_run: bool
) -> tuple[list[Edit], list[str]]:
    """The edit of each post citing a restored URL (written unless `dry_run`), and the
    posts that could not be repaired, each with why; the others are repaired regardless."""
    edits, problems = [], []
    for post, replacements in sorted(_replacements_by_post(extraction, restorations, link_style).items()):
        try:
            edit = plan_edit(post, replacements)
            if edit.changed and not dry_run:
                apply_edit(edit)
        except EditKeptBesideError as error:  # repaired, and an edit made meanwhile is kept beside it
            problems.append(str(error))
        except (InputError, OutputError) as error:  # this post stays as it was
            problems.append(str(error))
            continue
        edits.append(edit)
    return edits, problems


def _replacements_by_post(
    extraction: Extraction, restorations: Sequence[Restoration], link_style: LinkStyle
) -> dict[Path, list[Replacement]]:
    links = {link.url: link for link in extraction.links}
    by_post: dict[Path, list[Replacement]] = defaultdict(list)
    for restoration in restorations:
        if not restoration.restored:
            continue
        append = restoration.kind is not LinkKind.IMAGE and link_style == "append"
        for occurrence in links[restoration.url].occurrences:
            by_post[occurrence.post].append(Replacement(occurrence, restoration.new_url, append=append))
    return by_post
