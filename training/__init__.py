"""Fitting, evaluating and registering models (churn, skills, visit effects).

Importing it changes nothing in the process: the entry points (the ``fieldcoach`` command,
the test suite, the benchmarks) set ``OMP_WAIT_POLICY`` before LightGBM loads.
"""
