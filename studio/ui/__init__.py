"""The web studio: Gradio only, one module per tab. It drives the engine through its public functions and
the run folders; it never imports torch (the engine does, when a model is loaded)."""
