"""Numbers from stored results: the batched fits, the metrics and the statistics of seed populations.
May import :mod:`scalingbook.lab`, never the chapters or the site."""
