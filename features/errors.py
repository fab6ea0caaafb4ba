"""Errors a user can fix: bad input files, bad arguments. Anything else is a bug."""


class UserInputError(ValueError):
    """Input that breaks a stated rule; the message names what and where."""
