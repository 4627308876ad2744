"""Pure decision logic: no aiohttp, no sockets, no clock or RNG of its own."""
