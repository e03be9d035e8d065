import sys

from perfgen.cli import main

sys.exit(main())
