"""`python -m bench.ingest`: the whole ingest benchmark."""

import sys

from bench.ingest.run import main

sys.exit(main())
