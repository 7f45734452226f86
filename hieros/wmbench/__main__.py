"""`python -m hieros.wmbench`: see hieros.wmbench.cli."""

import sys

from hieros.wmbench.cli import main

sys.exit(main())
