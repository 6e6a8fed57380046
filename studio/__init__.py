"""Fine-tuning studio: fine-tune open language models from a browser or the command line."""

__version__ = "0.1.0"
