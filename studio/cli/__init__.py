"""``python -m studio COMMAND``: one module per command, the same engine without a browser.

- ``main``      the command line (chat, prepare, ui) and the table of the commands below
- ``train``     ``train CONFIG [--set key=value ...]``
- ``check``     ``check FILE``: the dataset health report
- ``evaluate``  ``eval RUN``
- ``export``    ``export RUN``
- ``users``     ``users add|remove|list|codes``
- ``serve``     ``serve RUN ...``: the OpenAI-compatible endpoint
- ``bench``     ``bench [--quick]``: training speed on this machine (the measuring is ``studio.engine.bench``)

The top layer: may import anything in ``studio``; nothing in ``studio`` imports it.
"""
