"""The `archiver` command: one sub-command per job, each a thin handler returning an exit code.

    archiver run        the main job over the posts named (PATH, GLOB, URL, -) or in config.yaml
    archiver check      the same health audit, without storing captures
    archiver report     the health reports again, from the history
    archiver export     the archive as one WACZ file
    archiver restore    put back dead images (and links) from captures, and repair the posts
    archiver extract    list the links and images that posts cite

Exit codes are `ExitCode`; warnings about single posts go to standard error and never
change the exit code. Options that stand for configuration keys (`--timeout`,
`--max-concurrency` ...) are handed to `config.with_overrides`, which checks them by the
keys' own rules.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import signal
import sys
from collections.abc import Sequence
from enum import IntEnum
from pathlib import Path
from typing import NoReturn

from rich.console import Console

from archiver import __version__, export, job, lock, output, progress, restore, stop
from archiver.atomic import write_text_atomically
from archiver.config import (
    DEFAULT_CONFIG_FILE,
    DEFAULT_SECRET_PARAMS,
    Config,
    Overrides,
    absolute_http_url,
    default_config,
    load_config,
    with_overrides,
)
from archiver.errors import ArchiverError, ConfigError, InputError, LockedError, OptionError, OutputError
from archiver.events import EventLog
from archiver.extract import extract
from archiver.extract.listing import summary, to_csv, to_json, write_table
from archiver.extract.sources import discover
from archiver.inputs import Inputs, parse_inputs, read_inputs
from archiver.model import Extracted, Extraction
from archiver.redact import Redactor
from archiver.report import FORMATS, Report
from archiver.restore import rewrite

EXTRACT_FORMATS = ("table", "json", "csv")
RESULT_FORMATS = ("text", *output.FORMATS)
INPUTS_USAGE = "PATH|GLOB|URL|-"
FAIL_ON = {"dead": ("dead",), "failing": ("dead", "failing"), "never": ()}


class ExitCode(IntEnum):
    """What the process exit status means."""

    OK = 0
    UNEXPECTED_ERROR = 1
    DEAD_LINKS = 2  # only when asked to fail on them
    BAD_INPUT = 3  # bad configuration, or a path that does not exist
    LOCKED = 4  # another run is using the output folder
    UNREACHABLE = 5  # the network looked unreachable: the run was kept but does not count
    HANGUP = 129  # stopped by SIGHUP (128 + 1, as a shell reports it)
    INTERRUPTED = 130  # stopped by Ctrl-C (SIGINT)
    TERMINATED = 143  # stopped by SIGTERM (128 + 15)


_STOPPED_BY = {signal.SIGTERM: ExitCode.TERMINATED, signal.SIGHUP: ExitCode.HANGUP}
# An error may come before the configuration is read (a --proxy with a password): shown
# with the default words.
_ERRORS_SHOWN = Redactor(DEFAULT_SECRET_PARAMS)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with `argv` (default: `sys.argv[1:]`) and return the exit code."""
    args = build_parser().parse_args(argv)
    with stop.stopping() as stopped:
        try:
            return int(args.handler(args))
        except (ConfigError, OptionError, InputError, OutputError) as error:
            print(f"archiver: error: {_ERRORS_SHOWN.text(str(error))}", file=sys.stderr)
            return ExitCode.BAD_INPUT
        except LockedError as error:
            print(f"archiver: {error}", file=sys.stderr)
            return ExitCode.LOCKED
        except ArchiverError as error:
            print(f"archiver: error: {_ERRORS_SHOWN.text(str(error))}", file=sys.stderr)
            return ExitCode.UNEXPECTED_ERROR
        except KeyboardInterrupt:
            return _stopped(stopped.signal)


def _stopped(by: signal.Signals | None) -> ExitCode:
    """Say that the run was stopped, and by what; the exit code a shell gives for that signal."""
    with contextlib.suppress(OSError):  # a terminal that hung up takes no more output
        print("archiver: interrupted" if by is None else f"archiver: stopped by {by.name}", file=sys.stderr)
    return ExitCode.INTERRUPTED if by is None else _STOPPED_BY[by]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command and option."""
    parser = _Parser(
        prog="archiver",
        description="Archive the links and images a blog cites, check their health, restore what rotted.",
        epilog="Exit codes: 0 success, 1 unexpected error, 2 dead (or failing) links found with --fail-on, "
        "3 bad configuration, input or output path, 4 another run is using the output folder, "
        "5 the network looked unreachable (the run does not count toward any verdict), "
        "129, 130 and 143 stopped by SIGHUP, Ctrl-C or SIGTERM.",
    )
    parser.add_argument("--version", action="version", version=f"archiver {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    _add_run(commands)
    _add_check(commands)
    _add_report(commands)
    _add_export(commands)
    _add_verify(commands)
    _add_restore(commands)
    _add_extract(commands)
    return parser


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-c", "--config", type=Path, metavar="FILE",
        help=f"configuration file (default: {DEFAULT_CONFIG_FILE} in the current folder, when there is one)",
    )  # fmt: skip


_INPUTS_HELP = (
    "Inputs: post files, folders (searched for .md, .markdown, .html, .htm), glob patterns ('posts/**/*.md'), "
    "- for standard input (a post, or a list of URLs one a line), or the URL of a live page, a sitemap "
    "(sitemap.xml, sitemap indexes) or an RSS/Atom feed, whose posts are fetched and read with the page's URL "
    "as the post's address. Without inputs, the posts named in the configuration."
)


def _add_run(commands: argparse._SubParsersAction[_Parser]) -> None:
    _add_job(
        commands, "run", store=True, summary_line="run the main job over the posts named, or the configured ones",
        description="Extract every link and image from the posts, fetch each URL that is due once (a new link at "
        "once, the others by the schedule: section of the configuration), store the captures as WARC files, add "
        "the checks to the history and write the health reports. " + _INPUTS_HELP,
    )  # fmt: skip


def _add_check(commands: argparse._SubParsersAction[_Parser]) -> None:
    _add_job(
        commands, "check", store=False, summary_line="check the health of every link without storing captures",
        description="The health audit of `archiver run` (fetch, classify, history, reports), writing no WARC "
        "files. " + _INPUTS_HELP,
    )  # fmt: skip


def _add_job(
    commands: argparse._SubParsersAction[_Parser], name: str, store: bool, summary_line: str, description: str
) -> None:
    parser = commands.add_parser(name, help=summary_line, description=description)
    parser.add_argument(
        "inputs", nargs="*", metavar=INPUTS_USAGE, help="what to check (default: the configuration's posts)"
    )
    _config_option(parser)
    _output_dir_option(parser)
    _fail_on_option(parser)
    _result_options(parser)
    _job_options(parser)
    _override_options(parser)
    if store:
        parser.add_argument(
            "--all", action="store_true", dest="every_link",
            help="check every link now, not only those due (see schedule: in config.yaml)",
        )  # fmt: skip
    parser.set_defaults(handler=run_command, store=store, every_link=not store)


def _output_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output", type=Path, metavar="DIR", dest="output_dir",
        help="the archive folder: WARC files, history, reports (default: the configuration's output.dir, "
        "else ./archives)",
    )  # fmt: skip


def _result_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format", choices=RESULT_FORMATS, default="text",
        help="what goes to standard output: text (the summary), json (the links as in report.json), markdown "
        "(as report.md) or junit (JUnit XML, a test case per link); default: text",
    )  # fmt: skip
    parser.add_argument(
        "-o", "--output-file", type=Path, metavar="FILE", dest="output_file",
        help="write the --format output to FILE instead of standard output (text: the summary line)",
    )  # fmt: skip


def _override_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("settings", "each takes the place of its configuration key, within its range")
    group.add_argument("--timeout", type=float, metavar="SECONDS",
                       help="most seconds for one URL with its redirects (fetch.total_timeout; it bounds "
                       "fetch.connect_timeout and fetch.read_timeout too)")  # fmt: skip
    group.add_argument("--max-concurrency", type=int, metavar="N", help="requests at once in all (fetch.concurrency)")
    group.add_argument("--per-host", type=int, metavar="N", help="requests at once to one host (fetch.per_host)")
    group.add_argument("--attempts", type=int, metavar="N", help="requests per URL, retries included (fetch.attempts)")
    group.add_argument(
        "--include",
        action="append",
        default=[],
        metavar="REGEX",
        help="fetch only URLs matching one such pattern (added to links.include; repeatable)",
    )
    group.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="REGEX",
        help="never fetch URLs matching this pattern (added to links.exclude; repeatable)",
    )
    group.add_argument("-u", "--user-agent", metavar="TEXT", help="the User-Agent header sent (fetch.user_agent)")
    group.add_argument("--proxy", metavar="URL",
                       help="send every request through this HTTP(S) proxy (fetch.proxy; see README on what "
                       "the address guard checks through a proxy)")  # fmt: skip
    group.add_argument("--allow", action="append", default=[], metavar="NETWORK",
                       help="a network that may be fetched although not public, such as 127.0.0.0/8 "
                       "(added to fetch.allow_networks; repeatable)")  # fmt: skip
    group.add_argument(
        "--base-url",
        type=_absolute_url,
        metavar="URL",
        help="site address for posts without a front-matter link (posts.base_url)",
    )


def _add_report(commands: argparse._SubParsersAction[_Parser]) -> None:
    parser = commands.add_parser(
        "report", help="write the health reports again from the history",
        description="Write report.json, report.csv, report.md and report.html in the output folder from the "
        "last extraction and the history, without fetching anything.",
    )  # fmt: skip
    _config_option(parser)
    _output_dir_option(parser)
    _fail_on_option(parser)
    parser.set_defaults(handler=report_command)


def _add_export(commands: argparse._SubParsersAction[_Parser]) -> None:
    parser = commands.add_parser(
        "export", help="package the archive as one WACZ file",
        description="Package every WARC file, an index and a pages list (one page per cited URL with a capture) "
        "into a WACZ file that ReplayWeb.page opens.",
    )  # fmt: skip
    _config_option(parser)
    _output_dir_option(parser)
    parser.add_argument("--wacz", type=Path, metavar="FILE", required=True, help="the WACZ file to write")
    parser.set_defaults(handler=export_command)


def export_command(args: argparse.Namespace) -> ExitCode:
    """`archiver export --wacz FILE`."""
    config = _archive_config(args, "export")
    with lock.exclusive(config.output_dir, "export"):
        shown = Redactor(config.report.secret_params)
        pages = export.export_wacz(config.output_dir, config.output_dir / job.LINKS_FILE, args.wacz, shown)
    print(f"wrote {args.wacz}: {pages} pages")
    return ExitCode.OK


def _add_verify(commands: argparse._SubParsersAction[_Parser]) -> None:
    parser = commands.add_parser(
        "verify", help="check that the history and the WARC files agree, and set right what can be",
        description="Read back the record every check of the history names, and every WARC file: a check whose "
        "record lost its identity in the history gets it back, one whose record is not there is no longer "
        "pointed at, a file without an index is indexed; files an interrupted run left, files that cannot be "
        "read and revisits that point at no record are named. Exit code 3 when something could not be set right.",
    )  # fmt: skip
    _config_option(parser)
    _output_dir_option(parser)
    parser.set_defaults(handler=verify_command)


def verify_command(args: argparse.Namespace) -> ExitCode:
    """`archiver verify`: the history and the WARC files agree, or what does not is named."""
    config = _archive_config(args, "verify")
    with lock.exclusive(config.output_dir, "verify"):
        summary = job.verify(config)
    shown = Redactor(config.report.secret_params)
    for finding in summary.findings:
        label = "fixed" if finding.fixed else "error"
        print(f"archiver: {label}: {finding.path}: {shown.text(finding.problem)}", file=sys.stderr)
    print(summary)
    return ExitCode.BAD_INPUT if summary.unfixed else ExitCode.OK


def _add_restore(commands: argparse._SubParsersAction[_Parser]) -> None:
    parser = commands.add_parser(
        "restore", help="put back dead images (and links) from captures, and repair the posts",
        description="For each image the history calls dead, find a capture (our own WARC files first, then the "
        "configured web archives), check that it is the real image, store it in the assets folder and point the "
        "posts at it. With --links, dead links get the address of an archived copy.",
    )  # fmt: skip
    _config_option(parser)
    _output_dir_option(parser)
    parser.add_argument("--links", action="store_true", help="restore dead links as well as images")
    parser.add_argument(
        "--include-failing", action="store_true", help="also restore what is failing but not yet called dead"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="look everything up, print the changes as a diff, change nothing"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print errors and the one-line summary only")
    parser.set_defaults(handler=restore_command)


def restore_command(args: argparse.Namespace) -> ExitCode:
    """`archiver restore`: restore dead images (and links) and repair the posts."""
    config = _with_output_dir(_config(args.config, missing=_MISSING["restore"]), args.output_dir)
    scope = restore.Scope(links=args.links, include_failing=args.include_failing, dry_run=args.dry_run)
    with lock.exclusive(config.output_dir, "restore"):
        summary = job.restore(config, scope)
    shown = Redactor(config.report.secret_params)
    for line in restore.summary_lines(summary):
        _say(args.quiet, shown.text(line))
    for edit in summary.edits:
        for replacement, reason in edit.skipped:
            if reason != rewrite.ALREADY_REPAIRED:
                where = shown.text(replacement.occurrence.source)
                print(f"archiver: warning: {edit.path}: {where}: {reason}", file=sys.stderr)
        if args.dry_run:
            sys.stdout.write(edit.diff())
    for problem in summary.problems:
        print(f"archiver: error: {problem}", file=sys.stderr)
    print(summary)
    return ExitCode.BAD_INPUT if summary.problems else ExitCode.OK


def _fail_on_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--fail-on", choices=tuple(FAIL_ON), default="never",
        help="exit with code 2 when a link is dead (dead), dead or failing (failing); default: never",
    )  # fmt: skip


def _job_options(parser: argparse.ArgumentParser) -> None:
    talk = parser.add_mutually_exclusive_group()
    talk.add_argument("-q", "--quiet", action="store_true",
                      help="print errors and the one-line summary only; no progress bar")  # fmt: skip
    talk.add_argument("-v", "--verbose", action="store_true", help="print every URL as it finishes, with its status")
    parser.add_argument("--log", type=Path, metavar="FILE", help="append a JSON-lines log of the run to FILE")


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
    parser.add_argument("--format", choices=EXTRACT_FORMATS, default="table", help="output format (default: table)")
    parser.add_argument("-o", "--output", type=Path, metavar="FILE", help="write to FILE instead of standard output")
    parser.set_defaults(handler=extract_command)


def run_command(args: argparse.Namespace) -> ExitCode:
    """`archiver run` and `archiver check`: the main job, with or without storing captures."""
    command = "run" if args.store else "check"
    inputs = parse_inputs(args.inputs)
    config = with_overrides(_config(args.config, missing=_MISSING[command], needed=not inputs.given), _overrides(args))
    say = _Chatter(quiet=args.quiet, to_stderr=args.format != "text")
    redactor = Redactor(config.report.secret_params)
    log = EventLog(args.log, redactor)
    try:
        log.event("start", command=command, output=str(config.output_dir))
        console = Console(stderr=True)
        with progress.shown(console, quiet=args.quiet, verbose=args.verbose, redact=redactor.text) as shown:
            extraction = _read_inputs(config, inputs, quiet=args.quiet, log=log) if inputs.given else None
            if extraction is None:  # the run reads the posts; a path gone missing is named before the lock
                discover(config.post_paths)

            def extracted(found: Extracted) -> None:
                if extraction is None:  # the configured posts, read by the run into its store of links
                    _warn(found, args.quiet, log, redactor)
                say(summary(found))

            with lock.exclusive(config.output_dir, command):
                checked = job.both(log.checked, shown.checked)
                result = job.run(config, checked, extraction, store=args.store, only_due=not args.every_link,
                                 phase=shown.phase, offer=not inputs.given, extracted=extracted)  # fmt: skip
                assert result.report is not None
                # made while the folder is still this run's: the report's links are read from report.json
                document = output.FORMATS[args.format](result.report, command) if args.format != "text" else ""
        code = _verdicts(result.report, config, args.fail_on, say)
        if result.unreachable:
            print(f"archiver: warning: {result.unreachable}", file=sys.stderr)
            code = ExitCode.UNREACHABLE
        print(f"{result}; {_counts(result.report)}", file=sys.stderr if say.to_stderr else sys.stdout)
        if args.format != "text":
            _write_results(document, args.output_file)
        elif args.output_file is not None:
            _write_results(f"{result}; {_counts(result.report)}\n", args.output_file)
        log.event("summary", text=str(result), verdicts=result.report.totals(), exit_code=int(code))
        return code
    finally:
        log.close()


class _Chatter:
    """Where a job's messages go: standard output, or standard error when standard output
    carries a document (--format json, markdown, junit); nowhere when quiet."""

    def __init__(self, quiet: bool = False, to_stderr: bool = False) -> None:
        self.quiet = quiet
        self.to_stderr = to_stderr

    def __call__(self, text: str) -> None:
        if not self.quiet:
            print(text, file=sys.stderr if self.to_stderr else sys.stdout)


def _write_results(text: str, path: Path | None) -> None:
    if path is None:
        sys.stdout.write(text)
    else:
        write_text_atomically(path, text)


def _overrides(args: argparse.Namespace) -> Overrides:
    """The options that stand for configuration keys, as given."""
    values = {"--timeout": args.timeout, "--max-concurrency": args.max_concurrency, "--per-host": args.per_host,
              "--attempts": args.attempts, "--user-agent": args.user_agent, "--proxy": args.proxy}  # fmt: skip
    return Overrides(
        values={option: value for option, value in values.items() if value is not None},
        include=tuple(args.include), exclude=tuple(args.exclude), allow=tuple(args.allow),
        output_dir=args.output_dir, base_url=args.base_url,
    )  # fmt: skip


def _read_inputs(config: Config, inputs: Inputs, quiet: bool, log: EventLog) -> Extraction:
    """The posts the inputs name (read before the lock: nothing is written); InputError
    when not one post could be read."""
    redactor = Redactor(config.report.secret_params)
    extraction = read_inputs(inputs, config.extract, config.fetch, stdin=sys.stdin.buffer, redact=redactor.text)
    _warn(extraction, quiet, log, redactor)
    if not extraction.posts:
        why = "; ".join(map(str, extraction.problems)) or "no posts in " + ", ".join(map(str, inputs.paths))
        raise InputError(f"no post could be read from the inputs given ({redactor.text(why)})")
    return extraction


def _say(quiet: bool, text: str) -> None:
    if not quiet:
        print(text)


def report_command(args: argparse.Namespace) -> ExitCode:
    """`archiver report`: the reports again, from the history."""
    config = _archive_config(args, "report")
    with lock.exclusive(config.output_dir, "report"):
        return _verdicts(job.regenerate_report(config), config, args.fail_on, _Chatter())


def _verdicts(built: Report, config: Config, fail_on: str, say: _Chatter) -> ExitCode:
    if built.unreachable:
        say(f"the latest run does not count ({built.unreachable}); verdicts are those of the runs before it")
    say(f"verdicts: {_counts(built)}")
    others = ", ".join(Path(filename).suffix for name, (filename, _) in FORMATS.items() if name != "html")
    say(f"wrote {config.output_dir / FORMATS['html'][0]} (and {others})")
    return ExitCode.DEAD_LINKS if built.failing(FAIL_ON[fail_on]) else ExitCode.OK


def _counts(built: Report) -> str:
    return ", ".join(f"{count} {verdict}" for verdict, count in built.totals().items())


def extract_command(args: argparse.Namespace) -> ExitCode:
    """`archiver extract`: list the links of posts."""
    config = _config(args.config, missing=_MISSING["extract"], needed=not args.paths)
    if args.base_url is not None:
        config = with_overrides(config, Overrides(base_url=args.base_url))
    extraction = Redactor(config.report.secret_params).value(_extract(config, args.paths or config.post_paths))
    if args.format == "table" and args.output is None:
        write_table(extraction, sys.stdout)
        return ExitCode.OK
    text = {"json": to_json, "csv": to_csv, "table": _table_text}[args.format](extraction)
    if args.output is None:
        sys.stdout.write(text)
    else:
        write_text_atomically(args.output, text)
    return ExitCode.OK


# What each command says when there is no configuration file and nothing in its place.
_MISSING = {
    "run": f"give the posts to archive (archiver run {INPUTS_USAGE} ...) or --config FILE",
    "check": f"give the posts to check (archiver check {INPUTS_USAGE} ...) or --config FILE",
    "extract": "give post paths (archiver extract PATH ...) or --config FILE",
    "report": "give the archive folder (archiver report --output DIR) or --config FILE",
    "export": "give the archive folder (archiver export --wacz FILE --output DIR) or --config FILE",
    "verify": "give the archive folder (archiver verify --output DIR) or --config FILE",
    "restore": "give --config FILE: restore rewrites the posts the configuration names",
}


def _config(path: Path | None, missing: str, needed: bool = True) -> Config:
    """The configuration file given, else config.yaml here when there is one, else (when
    not `needed`) the defaults; ConfigError saying `missing` otherwise."""
    if path is None and DEFAULT_CONFIG_FILE.exists():
        path = DEFAULT_CONFIG_FILE
    if path is None:
        if needed:
            raise ConfigError(DEFAULT_CONFIG_FILE, f"no configuration file in this folder; {missing}")
        config = default_config(())
    else:
        config = load_config(path)
    _redacting_warnings(Redactor(config.report.secret_params))
    return config


def _archive_config(args: argparse.Namespace, command: str) -> Config:
    """The configuration of a command that works on an archive folder alone: with
    --output DIR, no configuration file (nor any post) is needed."""
    return _with_output_dir(_config(args.config, _MISSING[command], needed=args.output_dir is None), args.output_dir)


def _with_output_dir(config: Config, output_dir: Path | None) -> Config:
    return with_overrides(config, Overrides(output_dir=output_dir))


def _redacting_warnings(shown: Redactor) -> None:
    """Warnings the stages log (a page that cannot be read names its URL) show no secret."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("archiver: warning: %(message)s"))
    handler.addFilter(_Redacting(shown))
    package = logging.getLogger("archiver")
    package.handlers = [handler]
    package.propagate = False


class _Redacting(logging.Filter):
    """Replaces a log record's message, and the traceback it carries, with their text, redacted."""

    def __init__(self, shown: Redactor) -> None:
        super().__init__()
        self._shown = shown

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self._shown.text(record.getMessage()), None
        if record.exc_info:
            record.exc_text = self._shown.text(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def _extract(config: Config, paths: Sequence[Path], quiet: bool = False, log: EventLog | None = None) -> Extraction:
    extraction = extract(paths, config.extract, spans=False)  # what a run, a check and a listing keep
    _warn(extraction, quiet, log, Redactor(config.report.secret_params))
    return extraction


def _warn(extraction: Extracted, quiet: bool, log: EventLog | None, shown: Redactor) -> None:
    for problem in extraction.problems:
        if not quiet:
            print(f"archiver: warning: {shown.text(str(problem))}", file=sys.stderr)
        if log is not None:
            log.warning(problem)


def _table_text(extraction: Extraction) -> str:
    buffer = io.StringIO()
    write_table(extraction, buffer)
    return buffer.getvalue()


def _absolute_url(value: str) -> str:
    try:
        return absolute_http_url(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors exit with BAD_INPUT, not argparse's 2."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(ExitCode.BAD_INPUT, f"{self.prog}: error: {message}\n")
