"""`python -m vidhook`: the same as the `vidhook` command."""

import sys

from vidhook.receiver.cli import main

sys.exit(main())
