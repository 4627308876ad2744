"""`edgelab steer`: the DNS/GSLB model that tells clients which target to use, with a TTL.

`config` (the file), `health` (pure up/down state machine), `choose` (pure: which target
answers), `server` (aiohttp: active health checks, `/resolve`, `/status`, metrics).
"""
