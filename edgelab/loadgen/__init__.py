"""The load side's reusable logic, importable without Locust (so tests never load gevent).

    from edgelab.loadgen.targets import load_targets
    targets = load_targets(Path("targets.json"))

`targets` (where things are), `retry` (client retry policy), `paths` (which path a request
takes: the client half of each bypass), `attacks` (the shipped attack payloads), `shapes`
(surge shapes as pure functions of elapsed time), `records` (the `requests.csv` writer and
reader), `surge` (run Locust headless as a subprocess). `loadtests/` holds the Locust side.
"""
