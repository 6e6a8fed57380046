"""What the records in a file hold, and how each kind becomes the studio's normalised records.

Normalised records (what training consumes):

- chat, sharegpt, alpaca, prompt_completion -> ``{"messages": [{"role": ..., "content": ...}, ...]}``
- text -> ``{"text": ...}``
- classification -> ``{"text": ..., "label": ...}`` (labels are always strings)
- preference -> ``{"messages": [prompt turns], "chosen": ..., "rejected": ...}``
- feedback -> ``{"messages": [prompt turns], "completion": ..., "verdict": True/False}`` (one answer judged
  good or bad, e.g. a ``label``/``kto_tag`` of true/false next to a prompt and completion or messages)

Chat-like records may also hold tool calling (assistant turns with ``tool_calls``, ``tool`` turns, and
``"tools"``: the tools offered), and ``"media"``: how many images, audio or video items were left out.

A format is found from the column names of the first records (case and surrounding spaces do not
matter), and, when the names say nothing (a CSV without a header, unusual names), from the values:
one text column is plain text; a long text column next to a short column with few distinct values
is text classification; two long text columns are prompt and completion.

Each format is a plug-in: a module here exposing ``FORMAT`` (a ``DataFormat``, see ``base`` for the contract)
declares its fields, how it is detected, how a record is normalised and previewed, and what the health checks
need from it; ``registry`` holds them, and a format defined elsewhere joins with ``register(MyFormat())``.
The built-in ones: ``chat``, ``sharegpt``, ``alpaca``, ``prompt_completion``, ``text``, ``classification``,
``preference`` and ``feedback``.

Other modules: ``fields`` (column names recognised for each field), ``detection`` and ``by_values`` (the format
and columns of a file), ``normalise`` (a raw row to its record) and ``values`` (reading one field's value).
"""

from studio.data.formats.base import DataFormat
from studio.data.formats.detection import detect
from studio.data.formats.fields import ALIASES, ROLE_NAMES, RowError
from studio.data.formats.normalise import normaliser
from studio.data.formats.registry import (ABOUT, FIELDS, FORMATS, all_formats, column_vocabulary, find, get, names,
                                          register, unregister)
from studio.data.formats.values import as_label, as_text, content_text, message_list

__all__ = ["ABOUT", "ALIASES", "FIELDS", "FORMATS", "ROLE_NAMES", "DataFormat", "RowError", "all_formats", "as_label",
           "as_text", "column_vocabulary", "content_text", "detect", "find", "get", "message_list", "names",
           "normaliser", "register", "unregister"]
