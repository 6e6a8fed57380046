"""Leaf types and helpers that every task and the trainer share.

Nothing here imports a task, the engine, a launcher, the server, the CLI or the UI. ``studio.data`` may use
core's leaf modules (``errors``, ``chat_template``, ``plugins``), and core's helpers that read data (``splits``) and the
config's list of data formats use ``studio.data``; there is no import circle between modules (``tests/test_layers.py``).

- ``config``        ``StudioConfig``: the one config type (YAML, widgets and ``--set`` flags all read it)
- ``models``        the model catalogue: the embedded default, hub ids, folders and GGUF files
- ``runfolder``     the run folder, the contract between training and whatever watches it
- ``errors``        ``StudioError``: a message for people (what, where, what to do)
- ``estimate``      memory and time before a run starts
- ``metrics``       text-generation metrics computed offline (ROUGE-L, BLEU, exact match, perplexity)
- ``hardware``      the device (with its free memory) and precision a run trains on, and its peak memory
- ``quiet``         library warnings and progress bars off, once per process
- ``plugins``       the table of plug-ins of one kind (tasks, launchers, data formats): found in a package, or registered
- ``setup``         ``TaskSetup``: what a task hands the trainer
- ``params``        parameter counts (4-bit weights counted as they were)
- ``splits``        training / held-out records from a config, planned steps, held-out data for evaluation
- ``run``           a run folder opened with its saved config
- ``loading``       the base model for training (full, LoRA, QLoRA; dtype and device), written once
- ``chat_template`` rendering messages with a tokenizer's chat template (and a fallback)
- ``generate``      a base and a tuned causal LM side by side, replying to messages
"""
