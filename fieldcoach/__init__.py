"""fieldcoach: the shared kernel at the bottom of the tree, and the command line on top.

``fieldcoach.settings`` and ``fieldcoach.registry`` are the kernel every stage may use; they
import no stage. ``fieldcoach.cli`` is the top: it imports every stage and nothing imports
it. The stages live in the top-level packages ``features`` (raw records to point-in-time
tables), ``training`` (fit, register), ``planning`` (next-best visits), ``serving``
(answer people), ``evaluation`` (checks against the simulator's truth) and ``simulator``
(a territory whose hidden truth lets tests check the right answer).
"""

__version__ = "0.1.0"
