"""The ``fieldcoach`` command line: thin commands that read and write files.

The top layer: it imports every stage and nothing imports it. Each command imports its
stage lazily so ``--help`` stays fast, and turns the stages' expected errors into a
one-line message and exit code 1 instead of a traceback (``common.user_errors``).
"""

from fieldcoach.cli.main import app

__all__ = ["app"]
