"""Errors about the user's input (files, datasets, configs).

Their message is one line that names the file and what is wrong; the tools
print it without a traceback (:func:`wsss_mm.utils.cli.run_tool`).
"""


class WSSSInputError(RuntimeError):
    """A file or setting given by the user is unusable; the message says
    which and why, in one line."""
