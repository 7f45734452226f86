"""The measuring functions of benchmarks/ on cases whose answer is known by hand."""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import train_step


class _Level:
    """Stands in for a level only as the thing whose `train_step` is counted: three known operations."""

    def train_step(self) -> None:
        x = torch.ones(3)  # 1: ones
        y = x * 2  # 2: mul
        y.view(3, 1)  # 3: view


def test_update_ops_counts_each_dispatched_operation_once():
    assert train_step.update_ops(_Level()) == 3
