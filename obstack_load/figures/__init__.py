"""What the suite reads of the target beside the load: its /metrics (``target``), and the
database figures over a run (``database``)."""
