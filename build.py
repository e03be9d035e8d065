"""Thin entry point: ``python build.py`` is ``perfgen build`` with the default paths."""

import sys

from perfgen.cli import main

if __name__ == "__main__":
    sys.exit(main(["build", *sys.argv[1:]]))
