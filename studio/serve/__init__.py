"""``python -m studio serve``: trained runs behind an OpenAI-compatible HTTP API.

    loading.py   which runs are served and how: LoRA runs of one base share one loaded copy of it
    generate.py  one reply written by a served model (sampling, stop strings, token counts)
    api.py       the FastAPI app: /v1/models, /v1/chat/completions, /v1/completions, keys, errors
    schemas.py   the request bodies, with OpenAI's names, defaults and ranges
    errors.py    errors in OpenAI's shape

Engine side: no gradio here.
"""
