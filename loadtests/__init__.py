"""edgelab's Locust side: `locust -f loadtests/locustfile.py` (or `edgelab surge`).

Imports Locust (and so gevent's monkey patching): never import this package from edgelab or
from tests; the reusable, testable logic lives in `edgelab.loadgen`.
"""
