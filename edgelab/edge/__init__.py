"""The edge: one CDN POP, a reverse proxy whose request path is a list of stages."""
