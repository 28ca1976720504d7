"""Plain data and helpers, free of Locust and gevent: what the run, the analyses, the
commands and the reference platform share (config, errors, the tenant population, histograms,
the ingestion ledger's types, how a run ended, the commands' vocabulary)."""
