"""Baseline: raw FastHttpUser GETs with no plugin at all."""

from locust import FastHttpUser, task


class PlainGet(FastHttpUser):
    @task
    def get(self) -> None:
        self.client.get("/")
