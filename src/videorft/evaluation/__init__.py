"""Evaluation: inference runner, benchmark metrics, temporal-sensitivity probe, HTML report.

Submodules are imported on use so that ``videorft.evaluation.metrics`` stays light (no torch).
"""
