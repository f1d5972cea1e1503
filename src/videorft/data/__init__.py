"""Datasets: the one `Record` type, loaders for the real annotation formats, prompts, synthetic suite."""

from videorft.data.record import TASKS, Record

__all__ = ["TASKS", "Record"]
