"""The test suite.

gevent patches here, before pytest imports any test module: Locust does the same at start-up,
and the results writer and Locust's stats used by some tests run on gevent. Patching after ssl
or sockets were imported breaks them.
"""

from gevent import monkey

monkey.patch_all()
