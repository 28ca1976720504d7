"""``--monitor``: a health monitor beside any run (``plugin``), with the health checks it and
the chaos experiments share (``checks``)."""
