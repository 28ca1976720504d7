"""``python -m obstack_load.cli``, as the ``obstack-load`` script."""

import sys

from obstack_load.cli import main

sys.exit(main())
