"""The reference Obstack platform: a real, fast HTTP service implementing the API contract the suite drives.

It is the demo target and the target of every test. It shares only the tenant population and the
OTLP codec with the suite, and never imports the suite's users: tests start it as a process.
"""
