"""The engine: training any task in a prepared run folder, without Gradio.

- ``entry``     ``python -m studio.engine RUN_DIR [--resume]``: what every launcher starts
- ``train``     ``run_training``: one run read top to bottom (set up, train, clean up)
- ``sampling``  batches of similar length
- ``evaluate``  base against tuned on held-out data, and the saved results
- ``overfit``   is the run learning or memorising (from its own events)
- ``bench``     ``python -m studio bench``: this machine's training speed

May import ``studio.tasks``, ``studio.data`` and ``studio.core``; never the server, launchers, export, CLI or UI.
"""
