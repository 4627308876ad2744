"""edgelab: rehearse the day your CDN fails.

A faithful CDN edge (cache, WAF, bot management, pushed config) in front of an origin with a
capacity model, driven by Locust surges and chaos faults, compared across bypass architectures.
"""

from __future__ import annotations

__version__ = "0.1.0"
