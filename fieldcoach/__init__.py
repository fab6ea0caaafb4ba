"""fieldcoach: the application shell (settings and command line) around the pipeline stages.

The stages themselves live in the top-level packages ``features`` (raw records to
point-in-time tables), ``training`` (fit, evaluate, register), ``serving`` (answer people)
and ``simulator`` (a territory whose hidden truth lets tests check the right answer).
"""

__version__ = "0.1.0"
