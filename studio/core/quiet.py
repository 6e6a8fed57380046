"""Library warnings and progress bars off, once per process at start-up (never from a request): the command line,
the training process and the web server call it before they load models."""

from __future__ import annotations

import logging
import os
import warnings


def quiet(log_warnings: bool = False) -> None:
    """``log_warnings``: also send the studio's own warnings to the log as one line each (a server's output)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    warnings.filterwarnings("ignore")
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)  # optional CPU kernels it cannot fetch offline
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:
        pass
    if log_warnings:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
