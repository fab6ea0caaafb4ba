"""Evaluation against a simulator's hidden truth: the only package besides ``simulator``
that reads ``DIR/_truth/``. Training never imports it; benchmarks and ``fieldcoach
evaluate`` do."""
