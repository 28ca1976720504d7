"""obstack-load: a Locust-based load-testing suite for the Obstack observability platform."""

__version__ = "0.1.0"
