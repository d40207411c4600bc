"""Experiments: the ``codesign-gym`` command line, experiment runners, results tables and plots."""
