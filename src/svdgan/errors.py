"""The one exception type that the CLI turns into a one-line message and exit status 2."""


class UserError(Exception):
    """Bad input from the user: a path, a file, a config value. Never a bug in svdgan."""
