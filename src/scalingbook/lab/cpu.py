"""How torch runs on the CPU: one setting shared by the trainer, the fits and the tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run with ``threads`` intra-op threads (None leaves the setting alone), then restore the caller's.

    The book's models and fits are thousands of small ops. On a shared 2-core machine a second
    thread made them 10 to 17 times slower (each op waits for a descheduled peer), and on an idle
    one it gained little, so CPU work here runs on one thread.
    """
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
