"""The one base of every error obstack-load reports as a clean one-line message.

Commands catch ``ObstackLoadError`` alone, print its message and exit with code 2; anything else
is a bug and keeps its traceback.
"""

from __future__ import annotations


class ObstackLoadError(Exception):
    """A problem the user can fix (bad input, an unreachable database); the message says which."""
