"""The command line: ``perfgen build``, ``perfgen validate``, ``perfgen import``, ``perfgen schema``.

Errors in config or data become one clear message per problem and exit code 1; a traceback is
shown only with ``--debug``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from perfgen import __version__
from perfgen.errors import PerfgenError, Warnings
from perfgen.pipeline import Project, build, validate
from perfgen.progress import Progress

EXIT_INPUT = 1
EXIT_USAGE = 2


def _project_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=Path("config/services.yml"), help="services file (default: config/services.yml)")
    parser.add_argument("--data", type=Path, default=Path("data"), help="folder of data files (default: data)")
    parser.add_argument("--templates", type=Path, default=Path("templates"), help="folder of templates overriding the built-in ones (default: templates, if it exists)")


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

    validate_parser = commands.add_parser("validate", help="check config and data, write nothing")
    _project_arguments(validate_parser)
    validate_parser.add_argument("--strict", action="store_true", help="fail on any warning")

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


def _run(args: argparse.Namespace) -> int:
    if args.command == "build":
        project = Project(config=args.config, data=args.data, output=args.output, templates=args.templates)
        result = build(project, strict=args.strict, workers=args.workers, progress=Progress(enabled=None if not args.quiet else False))
        _print_warnings(result.warnings)
        sys.stderr.flush()
        if not args.quiet:
            print(f"Built {result.pages} pages for {result.services} services into {result.output}/")
            print(f"View it with: python -m http.server -d {result.output}")
        return 0
    if args.command == "validate":
        project = Project(config=args.config, data=args.data)
        warnings = validate(project)
        _print_warnings(warnings)
        if args.strict and len(warnings):
            print(f"perfgen: {len(warnings)} warnings and --strict was given", file=sys.stderr)
            return EXIT_INPUT
        print(f"{project.config} and {project.data}/ are valid" + (f" ({len(warnings)} warnings)" if len(warnings) else ""))
        return 0
    if args.command == "import":
        from perfgen.importers.transactions_explorer import TransactionsExplorerError, import_transactions_explorer

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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
