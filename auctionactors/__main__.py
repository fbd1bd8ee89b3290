"""``python -m auctionactors``: the command line."""

import sys

from auctionactors.cli import main

sys.exit(main())
