"""The web UI's tabs (Ingestion, History) and the dashboard's pages, on Locust's Flask app or
standalone."""
