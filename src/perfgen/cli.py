"""The command line: ``perfgen build | validate | diff | serve | import | schema``.

Errors in config or data become one clear message per problem and exit code 1; a file that
cannot be read or written (a full disk, a folder perfgen may not write) one message and exit
code 4; a traceback is shown only with ``--debug``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from perfgen import __version__
from perfgen.errors import PerfgenError, Problem, Warnings
from perfgen.pipeline import Project, build, validate
from perfgen.progress import Progress

EXIT_INPUT = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3
EXIT_SYSTEM = 4


def _project_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=Path("config/services.yml"), help="services file (default: config/services.yml)")
    parser.add_argument("--data", type=Path, default=Path("data"), help="folder of data files (default: data)")
    parser.add_argument("--templates", type=Path, default=Path("templates"), help="folder of templates overriding the built-in ones (default: templates, if it exists)")


def _today_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--today", metavar="YYYY-MM-DD", default=None,
                        help="the build date: overdue figures are checked as at this date and new corrections are dated with it "
                             "(default: $PERFGEN_TODAY; without either, freshness is checked against the latest figures and "
                             "corrections are dated with the system clock, which the build reports)")


def _today(args: argparse.Namespace):
    from perfgen.freshness import TodayError, parse_today, today_from_environment

    try:
        return parse_today(args.today) if args.today else today_from_environment()
    except TodayError as error:
        raise PerfgenError([Problem(error.source, None, "", error.message)]) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="perfgen", description="Publish government service performance as a static website.")
    parser.add_argument("--version", action="version", version=f"perfgen {__version__}")
    parser.add_argument("--debug", action="store_true", help="show a traceback on errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    build_parser = commands.add_parser("build", help="build the site", description="Check config and data, compute the KPIs and write the site.")
    _project_arguments(build_parser)
    build_parser.add_argument("--output", "-o", type=Path, default=Path("site"), help="output folder (default: site)")
    build_parser.add_argument("--strict", action="store_true", help="fail on any warning (for the nightly build)")
    build_parser.add_argument("--workers", type=int, default=None, help="processes drawing charts (default: up to 2)")
    build_parser.add_argument("--quiet", "-q", action="store_true", help="print only problems")
    _today_argument(build_parser)
    build_parser.add_argument("--base-url", metavar="URL", default=None, help="public address of the site, for the feeds and sitemap.xml (default: site.base_url)")
    build_parser.add_argument("--previous", metavar="FOLDER_OR_URL", default=None,
                              help="the previously published site, to find corrections (default: the output folder); a web address is read over HTTP")

    validate_parser = commands.add_parser("validate", help="check config and data, write nothing")
    _project_arguments(validate_parser)
    validate_parser.add_argument("--strict", action="store_true", help="fail on any warning")
    validate_parser.add_argument("--format", choices=("text", "github"), default="text",
                                 help="'github' prints each problem as a GitHub Actions annotation on its file and line")
    _today_argument(validate_parser)

    diff_parser = commands.add_parser("diff", help="what changed between two built sites",
                                      description="Compare two folders written by perfgen build: services and departments added or removed, "
                                                  "published figures corrected, headline figures changed, new figures and new warnings.")
    diff_parser.add_argument("old", help="the site before: a folder, or the address of the published site")
    diff_parser.add_argument("new", help="the site after: a folder or an address")
    diff_parser.add_argument("--format", choices=("text", "markdown"), default="text", help="'markdown' for a pull request's job summary")
    diff_parser.add_argument("--limit", type=int, default=50, help="lines per section before '... and N more' (0: no limit; default 50)")
    diff_parser.add_argument("--title", default="What this change does to the published site", help="heading of the Markdown report")

    serve_parser = commands.add_parser("serve", help="serve the site locally and rebuild it when config, data or templates change",
                                       description="Build the site, serve it on this computer and rebuild it when the config, data or templates "
                                                   "change; open pages reload themselves. For previewing only: never publish the served copy.")
    _project_arguments(serve_parser)
    serve_parser.add_argument("--output", "-o", type=Path, default=None, help="folder to build into (default: a temporary folder)")
    serve_parser.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000; 0 picks a free one)")
    serve_parser.add_argument("--bind", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this computer only)")
    serve_parser.add_argument("--workers", type=int, default=None, help="processes drawing charts (default: up to 2)")
    _today_argument(serve_parser)

    import_parser = commands.add_parser("import", help="turn another format into a perfgen project")
    sources = import_parser.add_subparsers(dest="source", required=True, metavar="FORMAT")
    explorer = sources.add_parser("transactions-explorer", help="the GOV.UK Transactions Explorer spreadsheet (CSV export)")
    explorer.add_argument("spreadsheet", type=Path, help="the spreadsheet exported as CSV")
    explorer.add_argument("--out", type=Path, required=True, help="project folder to write config/ and data/ into")

    commands.add_parser("schema", help="print the JSON Schema of services.yml")
    return parser


def _print_warnings(warnings: Warnings, limit: int = 30) -> None:
    if not len(warnings):
        return
    counts = ", ".join(f"{code}: {count}" for code, count in warnings.by_code().items())
    print(f"{len(warnings)} warnings ({counts})", file=sys.stderr)
    for problem in warnings.sorted()[:limit]:
        print(f"  warning: {problem}", file=sys.stderr)
    if len(warnings) > limit:
        print(f"  ... and {len(warnings) - limit} more: see the data-quality page", file=sys.stderr)


def _print_build_notes(result, quiet: bool) -> None:
    """What a build found besides warnings: overdue services and corrections (always printed:
    the nightly job lists them), and why there is no feed (unless --quiet)."""
    if result.overdue:
        print(f"{len(result.overdue)} {'service is' if len(result.overdue) == 1 else 'services are'} overdue with new figures:")
        for late in result.overdue:
            print(f"  {late.service}: {late.detail()} ({late.days_late} days late)")
    history = result.changelog
    if history is not None and history.new:
        print(f"Recorded {history.new} {'correction' if history.new == 1 else 'corrections'} to published figures "
              f"(compared with {history.compared_with}), dated {history.dated.isoformat()}"
              + (" from the system clock: give --today or PERFGEN_TODAY to choose the date" if history.dated_by_clock else ""))
    if not quiet and not result.up_to_date and not (result.output / "sitemap.xml").exists():
        print("No site address (site.base_url or --base-url): sitemap.xml and the Atom feeds were not written")


def _github_escape(text: str, property_value: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if property_value else text


def github_annotation(problem, level: str) -> str:
    """A problem as a GitHub Actions workflow command: ``::error file=...,line=...::message``."""
    properties = []
    if problem.file and Path(problem.file).is_file():
        properties.append(f"file={_github_escape(problem.file, True)}")
        if problem.line:
            properties.append(f"line={problem.line}")
    title = f"perfgen {problem.code}" if problem.code else "perfgen"
    properties.append(f"title={_github_escape(title, True)}")
    message = f"{problem.where}: {problem.message}" if problem.where else problem.message
    if problem.file and not properties[0].startswith("file="):
        message = f"{problem.file}: {message}"  # not a file in the repository (a service, a plugin)
    if problem.hint:
        message += f"\nHint: {problem.hint}"
    return f"::{level} {','.join(properties)}::{_github_escape(message)}"


def _validate_github(project: Project, strict: bool) -> int:
    try:
        warnings = validate(project)
    except PerfgenError as error:
        for problem in error.problems:
            print(github_annotation(problem, "error"))
        print(f"perfgen: {len(error.problems)} {'problem' if len(error.problems) == 1 else 'problems'} in the {error.kind}", file=sys.stderr)
        return EXIT_INPUT
    level = "error" if strict else "warning"
    for problem in warnings.sorted():
        print(github_annotation(problem, level))
    if strict and len(warnings):
        print(f"perfgen: {len(warnings)} warnings and --strict was given", file=sys.stderr)
        return EXIT_INPUT
    print(f"{project.config} and {project.data}/ are valid" + (f" ({len(warnings)} warnings)" if len(warnings) else ""), file=sys.stderr)
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.command == "build":
        from perfgen.config import check_base_url

        try:
            base_url = check_base_url(args.base_url)
        except ValueError as error:
            raise PerfgenError([Problem("--base-url", None, "", str(error))]) from None
        project = Project(config=args.config, data=args.data, output=args.output, templates=args.templates,
                          today=_today(args), base_url=base_url, previous=args.previous)
        result = build(project, strict=args.strict, workers=args.workers, progress=Progress(enabled=None if not args.quiet else False))
        _print_build_notes(result, quiet=args.quiet)
        _print_warnings(result.warnings)
        sys.stderr.flush()
        if result.up_to_date:
            if not args.quiet:
                print(f"{result.output}/ is up to date: nothing has changed since it was built")
            return 0
        if not args.quiet:
            reused = f"; {result.pages_reused} pages as in the previous build, not rendered again" if result.pages_reused else ""
            print(f"Built {result.pages} pages for {result.services} services into {result.output}/ ({result.files_written} files new or changed{reused})")
            print(f"View it with: python -m http.server -d {result.output}")
        return 0
    if args.command == "validate":
        project = Project(config=args.config, data=args.data, today=_today(args))
        if args.format == "github":
            return _validate_github(project, args.strict)
        warnings = validate(project)
        _print_warnings(warnings)
        if args.strict and len(warnings):
            print(f"perfgen: {len(warnings)} warnings and --strict was given", file=sys.stderr)
            return EXIT_INPUT
        print(f"{project.config} and {project.data}/ are valid" + (f" ({len(warnings)} warnings)" if len(warnings) else ""))
        return 0
    if args.command == "diff":
        from perfgen.diff import compare_folders, markdown_report, text_report

        difference = compare_folders(args.old, args.new)
        limit = None if args.limit <= 0 else args.limit
        sys.stdout.write(markdown_report(difference, limit, args.title) if args.format == "markdown" else text_report(difference, limit))
        return 0
    if args.command == "serve":
        from perfgen.serve import serve

        project = Project(config=args.config, data=args.data, templates=args.templates, today=_today(args))
        return serve(project, output=args.output, port=args.port, bind=args.bind, workers=args.workers)
    if args.command == "import":
        from perfgen.importers.transactions_explorer import (
            TransactionsExplorerError,
            import_transactions_explorer,
        )

        try:
            report = import_transactions_explorer(args.spreadsheet, args.out)
        except TransactionsExplorerError as error:
            print(f"error: {error}", file=sys.stderr)
            for problem in error.problems:
                print(f"  {problem}", file=sys.stderr)
            print("perfgen: the spreadsheet cannot be imported; nothing was written", file=sys.stderr)
            return EXIT_INPUT
        print("\n".join(report.summary_lines()))
        print(f"Wrote {args.out}/config/services.yml and {args.out}/data/. Build it with: perfgen build --config {args.out}/config/services.yml --data {args.out}/data")
        return 0
    if args.command == "schema":
        from perfgen.config import json_schema

        sys.stdout.write(json_schema())
        return 0
    return EXIT_USAGE  # pragma: no cover - argparse rejects unknown commands


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except PerfgenError as error:
        if args.debug:
            raise
        problems = error.problems
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        print(f"perfgen: {len(problems)} {'problem' if len(problems) == 1 else 'problems'} in the {error.kind}; nothing was written", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("perfgen: interrupted; nothing was written", file=sys.stderr)
        return 130
    except OSError as error:  # the machine, not the input nor perfgen: a full disk, a folder it may not write
        if args.debug:
            raise
        where = f": {error.filename}" if error.filename else ""
        print(f"error: {error.strerror or error}{where}\n"
              "perfgen: a file could not be read or written; nothing was written (the published site is as it was)", file=sys.stderr)
        return EXIT_SYSTEM
    except Exception as error:  # a bug in perfgen, not a problem with the input
        if args.debug:
            raise
        print(f"perfgen: internal error ({type(error).__name__}: {error}); nothing was written.\n"
              "  This is a bug in perfgen: run the same command with --debug and report the traceback.", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
