"""RLlib agents (new API stack): REINFORCE as a custom algorithm, PPO configured for our envs,
and the policy modules (MLP, ConfuciuX's LSTM). Importing this package imports ray and torch."""
