from __future__ import annotations

import sys

from trtadvisor.cli import main

sys.exit(main())
