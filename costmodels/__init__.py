"""Pure, vectorized cost models, workloads and shipped data tables.

Only numpy is required (torch when a caller hands in torch tensors); nothing here imports
gymnasium, ray or stable-baselines3, so the cost models can be used alone for large sweeps.
"""
