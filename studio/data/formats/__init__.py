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

Modules: ``fields`` (the formats and their fields), ``detection`` and ``by_values`` (the format and
columns of a file), ``normalise`` (a normaliser per format) and ``values`` (reading one field's value).
"""

from studio.data.formats.detection import detect
from studio.data.formats.fields import ABOUT, ALIASES, CHAT_LIKE, FIELDS, FORMATS, ROLE_NAMES, RowError
from studio.data.formats.normalise import normaliser
from studio.data.formats.values import as_label, as_text, content_text, message_list

__all__ = ["ABOUT", "ALIASES", "CHAT_LIKE", "FIELDS", "FORMATS", "ROLE_NAMES", "RowError", "as_label", "as_text", "content_text",
           "detect", "message_list", "normaliser"]
