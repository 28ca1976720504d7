"""The Test Results Database: schema, stores, the interval aggregator and the Locust plugin.

Locustfiles load the plugin with ``import obstack_load.results.plugin``. Everything else here is
plain Python, usable without Locust (the ``obstack-load runs`` and ``db`` commands read it).
"""
