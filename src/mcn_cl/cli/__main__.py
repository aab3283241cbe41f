# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""`python -m mcn_cl.cli ...`: the same as the `mcn-cl` console script."""

import sys

from . import main

sys.exit(main())
