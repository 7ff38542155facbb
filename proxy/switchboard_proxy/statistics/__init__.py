"""Pure statistics for the quality loop: samples, confidence intervals and an always-valid sequential test.

No I/O and no third-party imports: the operator's experiment reconciler, `switchboard report` and the
tests call the same functions. `samples` turns counters and histograms (what Prometheus keeps) into
`Sample`s; `sequential` compares two of them with a mixture sequential probability ratio test whose
confidence sequence stays valid however often it is looked at.
"""

from .samples import Sample, bernoulli, from_histogram, mean_interval, share_above, with_spread
from .sequential import Comparison, SequentialSettings, compare, fixed_sample_size

__all__ = [
    "Comparison",
    "Sample",
    "SequentialSettings",
    "bernoulli",
    "compare",
    "fixed_sample_size",
    "from_histogram",
    "mean_interval",
    "share_above",
    "with_spread",
]
