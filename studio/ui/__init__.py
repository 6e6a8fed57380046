"""The web studio: Gradio only, one module per tab. It drives the engine through its public functions and
the run folders, and mounts ``studio.serve``'s OpenAI-compatible API under ``/v1`` (``serving``); it never imports
torch (the engine and the served models do, when a model is loaded)."""
