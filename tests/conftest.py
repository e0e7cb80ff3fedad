"""Shared pytest configuration: hypothesis profiles (derandomised in CI so a run is reproducible); under
pytest-xdist (``-n auto``) each worker runs torch on one thread, so the workers share the cores instead of each
spawning a thread per core."""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("default", deadline=None, max_examples=25,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", parent=settings.get_profile("default"), derandomize=True, database=None,
                          print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "default"))

if os.environ.get("PYTEST_XDIST_WORKER"):
    try:
        import torch
    except ImportError:   # the torch-free tiers need no pinning
        torch = None
    if torch is not None:
        torch.set_num_threads(1)
