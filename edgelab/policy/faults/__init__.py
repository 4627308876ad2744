"""Internal edge faults: what to inject where (plan) and, per request, what happens (decide)."""
