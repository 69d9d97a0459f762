"""`python -m autoconfig`: the same as the `autoconfig` command."""

import sys

from .cli import main

sys.exit(main())
