"""``python -m studio serve``: trained runs behind an OpenAI-compatible HTTP API.

    backends.py  which backend serves them (transformers unless llama.cpp is asked for), and the first line saying why
    loading.py   which runs are served and how: LoRA runs of one base share one loaded copy of it
    generate.py  one reply written by a served model (sampling, stop strings, token counts)
    batching.py  requests that arrive together share one left-padded generate (per loaded model)
    llamacpp.py  the llama.cpp backend (--backend llamacpp): each run's GGUF export, one reply at a time
    hub.py       what the web studio serves from its page, per person, with the backend they chose (a LoRA base
                 shared across people; a GGUF export each person's own), mounted under /v1 by studio.ui.serving
    limits.py    requests per API key (a token bucket; 429 with Retry-After)
    api.py       the FastAPI app: /v1/models, /v1/chat/completions, /v1/completions, keys, errors
    schemas.py   the request bodies, with OpenAI's names, defaults and ranges
    errors.py    errors in OpenAI's shape

Engine side: no gradio here.
"""
