"""Bridges to other training stacks (``verl``: export and reward function for multi-node RL)."""
