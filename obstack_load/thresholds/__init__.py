"""SLO thresholds: k6-style expressions, their evaluation against a run, and the CI exit code."""
