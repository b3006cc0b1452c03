"""What a restore prints: one line per URL, with the captures it turned down."""

from __future__ import annotations

from archiver.restore.values import RestoreSummary


def summary_lines(summary: RestoreSummary) -> list[str]:
    """One line per URL, for the terminal."""
    lines = []
    for restoration in summary.restorations:
        if restoration.restored:
            origin = (
                "already restored"
                if restoration.reused
                else f"from {restoration.source}, captured {restoration.captured_at}"
            )
            origin += f", {restoration.found_as}" if restoration.found_as else ""
            lines.append(f"restored  {restoration.url} -> {restoration.new_url} ({origin})")
        else:
            lines.append(f"{restoration.state:<9} {restoration.url}")
        lines.extend(f"    rejected {r.address} ({r.captured_at}): {r.reason}" for r in restoration.rejections)
        lines.extend(f"    {problem}" for problem in restoration.unavailable)
        lines.extend(f"    not asked: {note}" for note in restoration.remembered)
    return lines
