"""Command-line jobs of the cost models and data tables (costmodel, loopnest, nb201, memory, xavier, workloads)."""
