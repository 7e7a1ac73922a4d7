"""One module per chapter (its analysis, verdicts and chart builders), and the charts and tables they
share. May import :mod:`scalingbook.lab` and :mod:`scalingbook.analysis`, never the site."""
