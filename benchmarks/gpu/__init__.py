"""The parts of benchmarks/gpu_reflow.py (one budgeted GPU check of the image pipeline): common, deadline,
planning, throughput, stages, fashion, report."""
