"""Fine-tuning studio: fine-tune open language models from a browser or the command line."""

__version__ = "0.1.0"

# The task registry hands the config its tasks' own settings sections (``preference.beta``), so that every
# config read anywhere knows them; the registry finds its tasks the first time it is asked.
from studio import tasks as _tasks  # noqa: E402,F401
