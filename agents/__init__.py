"""Agents: REINFORCE and PPO on Ray RLlib, and search baselines behind one ask/tell interface."""
