"""Locust's ``--help`` with a locustfile's options in it, grouped: ``obstack-load options FILE``.

``locust -f FILE --help`` prints its help before it imports FILE (locust#2917), so the options
the suite's plugins add never show there. This imports the locustfile the way Locust does,
then prints the same parser's help, in which each suite option sits in its group
(``obstack_load.run.options.GROUPS``) with its ``OBSTACK_*`` variable.

    python -m obstack_load.plugins.help locustfiles/mixed.py
"""

from __future__ import annotations

import sys

from locust.argument_parser import get_parser
from locust.util.load_locustfile import load_locustfile


def main(argv: list[str]) -> int:
    for locustfile in argv or ["locustfiles/mixed.py"]:
        load_locustfile(locustfile)
    parser = get_parser()
    parser.prog = "locust"
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
