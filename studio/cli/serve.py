"""``python -m studio serve RUN [RUN ...]``: trained runs behind an OpenAI-compatible API."""

from __future__ import annotations

import os
import socket

from studio.serve.hub import is_loopback


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "serve", help="serve trained runs with an OpenAI-compatible API (/v1/chat/completions)",
        description="Answer OpenAI API requests (/v1/models, /v1/chat/completions, /v1/completions) with the "
                    "tuned models of RUN folders; each run's id is its folder name, and RUN:base is its base model. "
                    "LoRA runs of one base share one loaded copy of it. Requests to one loaded model that arrive "
                    "together share one batch.")
    p.add_argument("run_dirs", nargs="+", metavar="RUN", help="a finished or stopped run folder whose task writes replies")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--api-key-env", default=None, metavar="NAME",
                   help="the environment variable that holds the API key; requests then need "
                        "'Authorization: Bearer <key>'. Required for any address other than loopback")
    p.add_argument("--backend", default="transformers", choices=["transformers", "llamacpp", "vllm", "auto"],
                   help="transformers (default): each run's folder, RUN:base too; llamacpp: each run's GGUF export "
                        "(python -m studio export RUN --gguf) in llama.cpp, which needs the optional extra: "
                        "pip install 'finetune-studio[gguf]'; vllm: each run and RUN:base in vLLM on a CUDA GPU "
                        "(LoRA runs as adapters on one copy of their base; STUDIO_VLLM_GPU_MEMORY, 0.85 unless set, "
                        "is the share of GPU memory it takes), which needs vLLM installed; auto: vLLM on a CUDA GPU "
                        "where it is installed, llama.cpp where there is no CUDA GPU, it is installed and every run "
                        "has a GGUF export, else transformers. The first line says which and why")
    p.set_defaults(func=run)


def api_key(args) -> str | None:
    """The key from the environment, or None; refuses an empty key and a non-loopback address without one."""
    from studio.core.errors import StudioError

    key = None
    if args.api_key_env:
        key = os.environ.get(args.api_key_env, "").strip()
        if not key:
            raise StudioError(f"--api-key-env {args.api_key_env}: that environment variable is empty or not set; "
                              f"set it (export {args.api_key_env}=a-long-random-key) and start again")
    if key is None and not is_loopback(args.host):
        raise StudioError(f"refusing to serve on {args.host} without an API key: anyone who can reach this machine "
                          "could use the models; put a key in an environment variable and name it with --api-key-env "
                          "NAME, or bind --host 127.0.0.1")
    return key


def bind(host: str, port: int) -> socket.socket:
    from studio.core.errors import StudioError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as err:
        sock.close()
        raise StudioError(f"cannot listen on {host}:{port} ({err.strerror}); choose another --port or --host") from err
    return sock


def run(args) -> int:
    import uvicorn

    from studio.serve import backends, loading
    from studio.serve.api import create_app

    key = api_key(args)
    plans = loading.plan(args.run_dirs)
    device, gpu = loading.pick_device()
    backend, why = backends.choose_backend(args.backend, plans, device)
    sock = bind(args.host, args.port)
    print(backends.backend_line(device, gpu, backend, why, plans), flush=True)
    served = backends.load(backend, plans, device, log=lambda line: print(line, flush=True))
    app = create_app(served, key)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    turns = {"llamacpp": "one request at a time per model",
             "vllm": "requests are batched continuously"}.get(backend, "requests that arrive together share a batch")
    print(f"serving {', '.join(served)} at http://{shown}:{sock.getsockname()[1]}/v1"
          f"{' (key required)' if key else ''}; {turns}", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="info"))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn shuts down on Ctrl-C, then raises it again
        pass
    for loaded in {id(s.loaded): s.loaded for s in served.values()}.values():
        loaded.close()  # vLLM's engine processes end here, not when this one exits
    print("stopped serving", flush=True)
    return 0
