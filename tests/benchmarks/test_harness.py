"""The benchmark harness's pure parts: the wrk Lua script and its summary line."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from benchmarks.harness import (
    RESULT_MARKER,
    WrkLoad,
    WrkResult,
    median_result,
    nginx_config,
    parse_wrk_output,
    process_cpu_s,
    wrk_script,
)


def test_parses_the_summary_line_among_wrk_output() -> None:
    out = (
        "Running 5s test @ http://127.0.0.1:1\n  1 threads and 8 connections\n"
        f'{RESULT_MARKER}{{"requests": 5000, "duration_us": 2000000, "errors": 3, '
        '"p50_us": 1500, "p90_us": 2500, "p99_us": 9000, "max_us": 20000}\n'
        "Requests/sec: 2500.00\n"
    )
    r = parse_wrk_output(out)
    assert (r.requests, r.rps, r.errors) == (5000, 2500.0, 3)
    assert (r.p50_ms, r.p90_ms, r.p99_ms, r.max_ms) == (1.5, 2.5, 9.0, 20.0)


def test_missing_summary_is_an_error() -> None:
    with pytest.raises(ValueError, match="no wrk summary"):
        parse_wrk_output("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_script_has_paths_headers_body_and_delay() -> None:
    script = wrk_script(
        WrkLoad(
            paths=("/a", '/b"q'),
            method="POST",
            headers={"X-Edgelab-Attack": "sqli"},
            body="x=1",
            delay_ms=5,
        )
    )
    assert 'local paths = {"/a", "/b\\"q"}' in script
    assert '["X-Edgelab-Attack"] = "sqli"' in script
    assert 'wrk.format("POST", paths[i], headers, body)' in script
    assert "return 5" in script
    assert "delay" not in wrk_script(WrkLoad())


def test_median_is_field_by_field() -> None:
    def result(rps: float, p50: float) -> WrkResult:
        return WrkResult(10, 1.0, rps, p50, p50, p50, p50, 0)

    m = median_result([result(100, 3), result(300, 1), result(200, 2)])
    assert (m.rps, m.p50_ms) == (200, 2)


def test_nginx_config_is_a_plain_proxy_pass(tmp_path: Path) -> None:
    conf = nginx_config(prefix=tmp_path, port=4321, upstream="127.0.0.1:9", workers=1)
    assert "listen 127.0.0.1:4321;" in conf
    assert "server 127.0.0.1:9;" in conf
    assert "worker_processes 1;" in conf
    assert "proxy_cache" not in conf


def test_process_cpu_counts_what_this_process_spent() -> None:
    before = process_cpu_s(os.getpid())
    busy_until = time.process_time() + 0.1
    while time.process_time() < busy_until:
        pass
    assert process_cpu_s(os.getpid()) - before >= 0.05
