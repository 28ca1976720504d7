"""Chaos under load: the fault proxy (Toxiproxy's vocabulary and control API), and what
follows it in issue 19."""
