"""The book around the chapters: the runner and its staleness checks, parameters, the command line,
teaching and grading, and the Sphinx extension."""
