"""The private TRL methods VideoGRPOTrainer relies on still exist on the installed TRL (they change between
minor versions; ``grpo_trainer.TRL_PRIVATE_METHODS`` names them all in one place)."""

from __future__ import annotations

import inspect

from trl import GRPOTrainer

from videorft.training import grpo_trainer
from videorft.training.grpo_trainer import TRL_PRIVATE_METHODS, VideoGRPOTrainer


def test_every_private_trl_method_relied_on_exists_on_grpo_trainer():
    missing = [name for name in TRL_PRIVATE_METHODS if not callable(getattr(GRPOTrainer, name, None))]
    assert not missing, f"trl.GRPOTrainer no longer has {missing}: port VideoGRPOTrainer to this TRL version"


def test_every_overridden_private_trl_method_is_named():
    """A new override of a private TRL method must join TRL_PRIVATE_METHODS (so the test above covers it)."""
    overridden = {
        name
        for name, value in vars(VideoGRPOTrainer).items()
        if name.startswith("_")
        and not name.startswith("__")
        and callable(value)
        and hasattr(GRPOTrainer, name)
    }
    assert overridden <= set(TRL_PRIVATE_METHODS)


def test_the_list_is_in_the_trainer_module():
    source = inspect.getsource(grpo_trainer)
    assert source.count("TRL_PRIVATE_METHODS: tuple[str, ...] = (") == 1
