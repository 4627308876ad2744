"""RFC 9111 shared-cache decisions, pure: no sockets, no clock (`now` comes in), no store.

directives.py (Cache-Control, RFC 9213 targeted fields) · freshness.py (age, lifetime, §4.2) ·
storable.py (§3) · key.py (primary key, Vary §4.1) · states.py (lookup and after-fetch decisions)
· validation.py (conditionals §4.3) · ranges.py (byte ranges from a stored response) ·
invalidation.py (§4.4) · status.py (Cache-Status, RFC 9211, and X-Cache).
"""
