"""Engines other than pandas that compute the same tables (``--engine spark``).

Nothing here is imported by the pandas path, so pandas users never import pyspark.
"""
