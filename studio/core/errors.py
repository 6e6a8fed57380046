"""Errors meant for people: one line that says what is wrong, where, and what to do."""


class StudioError(Exception):
    """A problem the user can fix (bad file, unknown model, impossible setting).

    The CLI prints ``str(err)`` as one line and exits non-zero; the web UI shows it as a message.
    Never raise it for programming errors.
    """
