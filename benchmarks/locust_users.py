"""Bare Locust users for benchmarks/locust_rps.py: one GET of one path, no think time.

    locust -f benchmarks/locust_users.py FastBench --host http://127.0.0.1:8080 ...

`FastBench` (geventhttpclient) and `HttpBench` (requests) measure what one Locust process can
send; edgelab's own users (loadtests/) add path choice and requests.csv on top.
"""

from __future__ import annotations

from locust import FastHttpUser, HttpUser, constant, events, task

from loadtests.options import add_options
from loadtests.shapes import EdgelabShape

__all__ = ["EdgelabShape", "FastBench", "HttpBench"]

events.init_command_line_parser.add_listener(add_options)

PATH = "/static/app.js"


class FastBench(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self) -> None:
        self.client.get(PATH, name="static")


class HttpBench(HttpUser):
    wait_time = constant(0)

    @task
    def get(self) -> None:
        self.client.get(PATH, name="static")
