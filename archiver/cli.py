"""The `archiver` command: one sub-command per job, each a thin handler returning an exit code.

    archiver run        the main job over the posts named in config.yaml
    archiver extract    list the links and images that posts cite

Exit codes are `ExitCode`; warnings about single posts go to standard error and never
change the exit code.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from enum import IntEnum
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from archiver import __version__, job
from archiver.atomic import write_text_atomically
from archiver.config import DEFAULT_CONFIG_FILE, Config, default_config, load_config
from archiver.errors import ArchiverError, ConfigError, InputError, OutputError
from archiver.extract import extract
from archiver.extract.listing import summary, to_csv, to_json, write_table
from archiver.model import Extraction

FORMATS = ("table", "json", "csv")


class ExitCode(IntEnum):
    """What the process exit status means."""

    OK = 0
    UNEXPECTED_ERROR = 1
    DEAD_LINKS = 2  # only when asked to fail on them
    BAD_INPUT = 3  # bad configuration, or a path that does not exist
    INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with `argv` (default: `sys.argv[1:]`) and return the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except (ConfigError, InputError, OutputError) as error:
        print(f"archiver: error: {error}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    except ArchiverError as error:
        print(f"archiver: error: {error}", file=sys.stderr)
        return ExitCode.UNEXPECTED_ERROR
    except KeyboardInterrupt:
        print("archiver: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command and option."""
    parser = _Parser(
        prog="archiver",
        description="Archive the links and images a blog cites, check their health, restore what rotted.",
        epilog="Exit codes: 0 success, 1 unexpected error, 3 bad configuration, input or output path.",
    )
    parser.add_argument("--version", action="version", version=f"archiver {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    _add_run(commands)
    _add_extract(commands)
    return parser


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-c", "--config", type=Path, metavar="FILE",
        help=f"configuration file (default: {DEFAULT_CONFIG_FILE} in the current folder, when there is one)",
    )  # fmt: skip


def _add_run(commands: argparse._SubParsersAction[_Parser]) -> None:
    parser = commands.add_parser(
        "run", help="run the main job over the configured posts",
        description="Extract every link and image from the configured posts, fetch each URL once and "
        "store the captures as WARC files, with a per-URL results file, in the output folder.",
    )  # fmt: skip
    _config_option(parser)
    parser.set_defaults(handler=run_command)


def _add_extract(commands: argparse._SubParsersAction[_Parser]) -> None:
    parser = commands.add_parser(
        "extract", help="list the links and images that posts cite",
        description="List every link and image the posts cite, with the post, line and text of each citation.",
    )  # fmt: skip
    parser.add_argument(
        "paths", nargs="*", type=Path, metavar="PATH",
        help="post files or folders (default: the posts named in the configuration)",
    )  # fmt: skip
    _config_option(parser)
    parser.add_argument(
        "--base-url", type=_absolute_url, metavar="URL", help="site address for posts without a front-matter link"
    )
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    parser.add_argument("-o", "--output", type=Path, metavar="FILE", help="write to FILE instead of standard output")
    parser.set_defaults(handler=extract_command)


def run_command(args: argparse.Namespace) -> ExitCode:
    """`archiver run`: the main job."""
    config = _config(args.config)
    extraction = _extract(config, config.post_paths)
    print(summary(extraction))
    with _progress_bar(len(extraction.fetchable)) as advance:
        result = job.run(config, advance, extraction)
    print(result)
    print(f"wrote {config.output_dir / job.RESULTS_FILE}")
    return ExitCode.OK


@contextmanager
def _progress_bar(total: int) -> Iterator[job.Progress]:
    """A progress bar on a terminal; silence otherwise."""
    if not sys.stderr.isatty():
        yield lambda _: None
        return
    columns = (TextColumn("fetching"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("fetch", total=total)
        yield lambda _: bar.advance(task)


def extract_command(args: argparse.Namespace) -> ExitCode:
    """`archiver extract`: list the links of posts."""
    config = _config(args.config, args.base_url, require_file=not args.paths)
    extraction = _extract(config, args.paths or config.post_paths)
    if args.format == "table" and args.output is None:
        write_table(extraction, sys.stdout)
        return ExitCode.OK
    text = {"json": to_json, "csv": to_csv, "table": _table_text}[args.format](extraction)
    if args.output is None:
        sys.stdout.write(text)
    else:
        write_text_atomically(args.output, text)
    return ExitCode.OK


def _config(path: Path | None, base_url: str | None = None, require_file: bool = True) -> Config:
    if path is None and DEFAULT_CONFIG_FILE.exists():
        path = DEFAULT_CONFIG_FILE
    if path is None:
        if require_file:
            raise ConfigError(DEFAULT_CONFIG_FILE, "configuration file not found; give --config FILE or post paths")
        return default_config((), base_url)
    config = load_config(path)
    if base_url is not None:
        config = config.model_copy(update={"extract": config.extract.model_copy(update={"base_url": base_url})})
    return config


def _extract(config: Config, paths: Sequence[Path]) -> Extraction:
    extraction = extract(paths, config.extract)
    for problem in extraction.problems:
        print(f"archiver: warning: {problem}", file=sys.stderr)
    return extraction


def _table_text(extraction: Extraction) -> str:
    buffer = io.StringIO()
    write_table(extraction, buffer)
    return buffer.getvalue()


def _absolute_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise argparse.ArgumentTypeError(f"must be an absolute http(s) URL, got {value!r}")
    return value


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors exit with BAD_INPUT, not argparse's 2."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(ExitCode.BAD_INPUT, f"{self.prog}: error: {message}\n")
