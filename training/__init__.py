"""Fitting, evaluating and registering models (churn, skills, visit effects)."""

import os

# LightGBM's OpenMP threads spin while waiting; on a small or shared machine the spinning
# starves the working threads (measured here: 440 ms per boosting round with 2 threads
# instead of 14 ms). It must be set before the OpenMP runtime loads, hence at import.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
