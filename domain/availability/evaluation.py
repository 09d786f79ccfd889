"""Evaluating thresholds over metric samples. (Owned by availability's thresholds.)"""

from __future__ import annotations

from collections.abc import Sequence

from domain.availability import MetricSample
from graphdb.write_path import UnitOfWork


def process_samples(uow: UnitOfWork, samples: Sequence[MetricSample]) -> None:
    raise NotImplementedError
