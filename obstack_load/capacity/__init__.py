"""Capacity search: the highest open-model arrival rate at which every SLO holds, the knee of
the latency curve, and what saturated first. ``search`` plans the steps,
``obstack_load.figures.window`` (shared with the chaos experiments) measures one step from
Locust's stats, ``verdict`` reads the steps, ``plugin`` drives a run, ``report`` renders it,
and ``command`` is ``obstack-load capacity``."""
