"""The run's spine on Locust: its events, its state on the Environment (``context``), the
phases of its end (``endings``), the suite's options, the summary, load shapes, the open model
(``arrival``) and the ingestion accounting."""
