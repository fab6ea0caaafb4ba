"""A simulated territory with ground truth: the environment every model is checked against.

See ``docs/simulator.md`` for the causal story. Pipelines never read ``_truth/``; only
evaluation code does, through ``load_truth``.
"""

from simulator.export import export_dataset, load_truth
from simulator.territory import SimulationConfig, Territory

__all__ = ["SimulationConfig", "Territory", "export_dataset", "load_truth"]
