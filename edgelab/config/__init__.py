"""Configuration models and the one loader that turns files into them."""

from __future__ import annotations

from edgelab.config.load import load_model, parse_model

__all__ = ["load_model", "parse_model"]
