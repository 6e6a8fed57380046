"""Leaf types and helpers that every task and the trainer share.

Nothing here imports a task, the trainer, the run store or the UI: imports go one way,
``studio.tasks.* -> studio.core -> studio.config / studio.models / studio.data / studio.errors``.

- ``hardware``      the device (with its free memory) and precision a run trains on, and its peak memory
- ``quiet``         library warnings and progress bars off, once per process
- ``plugins``       the table of plug-ins of one kind (tasks, launchers): found in a package, or registered
- ``setup``         ``TaskSetup``: what a task hands the trainer
- ``params``        parameter counts (4-bit weights counted as they were)
- ``splits``        training / held-out records from a config, planned steps, held-out data for evaluation
- ``run``           a run folder opened with its saved config
- ``loading``       the base model for training (full, LoRA, QLoRA; dtype and device), written once
- ``chat_template`` rendering messages with a tokenizer's chat template (and a fallback)
- ``generate``      a base and a tuned causal LM side by side, replying to messages
"""
