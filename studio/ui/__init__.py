"""The web studio: Gradio only, one module per tab. It drives the engine through its public functions and
the run folders, and mounts ``studio.serve``'s OpenAI-compatible API under ``/v1`` (``serving``); it never imports
torch (the engine and the served models do, when a model is loaded). The tab a run is tried in is the try panel its
task names (``studio.ui.panels``): the Chat tab here, or a task's own ``panel.py``, page code that may import this
package and that only the page loads."""
