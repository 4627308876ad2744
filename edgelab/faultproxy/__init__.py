"""A Toxiproxy-compatible TCP fault proxy: the same REST API, the same toxics, in asyncio.

    async with running(FaultProxyServer(port=0)) as server:
        client = FaultProxyClient(server.addresses["api"])
        proxy = client.ensure_proxy("origin", listen="127.0.0.1:0", upstream="127.0.0.1:8080")

See `server.py` (the process), `api.py` (routes), `collection.py`, `proxy.py`, `link.py`
(one direction of a connection), `toxics/` (one file per toxic) and `client.py` (drive any
Toxiproxy server, ours or the real one, through toxiproxy-python).
"""
