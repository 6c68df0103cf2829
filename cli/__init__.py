"""The ``renewals`` command line: see :mod:`cli.main` for the commands and where each lives."""
