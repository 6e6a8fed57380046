"""Where the studio listens and where it keeps its files, resolved once from the environment.

Address (first that is set wins):
- host: the command line, ``STUDIO_HOST``, Gradio's ``GRADIO_SERVER_NAME``; else ``0.0.0.0`` on a Hugging
  Face Space (``SPACE_ID`` is set there) and ``127.0.0.1`` elsewhere.
- port: the command line, ``STUDIO_PORT``, ``GRADIO_SERVER_PORT``; else 7860.
- root path behind a reverse proxy: ``GRADIO_ROOT_PATH`` (e.g. ``/studio``), as in any Gradio app.

Files: ``STUDIO_DATA`` names one folder (a Docker volume, a Space's persistent storage, a mounted bucket)
that holds everything the studio writes: ``runs/`` (with each person's uploaded and fixed data files), ``cache/``
(the studio's converted models, ``STUDIO_CACHE``) and ``hf/`` (``HF_HOME``: hub downloads). Each can still be set
on its own (``STUDIO_RUNS``, ``STUDIO_CACHE``, ``HF_HOME``). Without ``STUDIO_DATA``: runs in ``./runs``, the cache
in ``~/.cache/studio``, ``HF_HOME`` untouched.

Call ``apply_env()`` before gradio or huggingface_hub is imported (they read ``HF_HOME`` at import).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, MutableMapping

from studio.core.errors import StudioError

DEFAULT_PORT = 7860


@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    root_path: str
    runs_dir: Path
    cache_dir: Path | None  # None: the studio's default (~/.cache/studio)
    hf_home: Path | None  # None: Hugging Face's default (~/.cache/huggingface)
    data_dir: Path | None  # STUDIO_DATA, when set
    space_id: str = ""

    @property
    def on_space(self) -> bool:
        return bool(self.space_id)

    @property
    def url(self) -> str:
        shown = "localhost" if self.host in ("0.0.0.0", "127.0.0.1", "::") else self.host
        return f"http://{shown}:{self.port}{self.root_path}"


def _get(env: Mapping[str, str], *names: str) -> str:
    for name in names:
        value = (env.get(name) or "").strip()
        if value:
            return value
    return ""


def _port(value, where: str) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        port = -1
    if not 0 < port < 65536:
        raise StudioError(f"the port {value!r} ({where}) is not a port number; give a number from 1 to 65535, e.g. 7860")
    return port


def resolve(host: str | None = None, port: int | str | None = None, runs_dir: str | Path | None = None,
            env: Mapping[str, str] | None = None) -> Settings:
    """The address and folders for this server: arguments first, then the environment (see the module doc)."""
    env = os.environ if env is None else env
    space_id = _get(env, "SPACE_ID")
    host = (host or "").strip() or _get(env, "STUDIO_HOST", "GRADIO_SERVER_NAME") or (
        "0.0.0.0" if space_id else "127.0.0.1")
    if port:
        port = _port(port, "the --port option")
    else:
        name = next((n for n in ("STUDIO_PORT", "GRADIO_SERVER_PORT") if _get(env, n)), "")
        port = _port(_get(env, name), f"the {name} environment variable") if name else DEFAULT_PORT
    root_path = _get(env, "GRADIO_ROOT_PATH").rstrip("/")
    if root_path and not root_path.startswith(("/", "http://", "https://")):
        root_path = "/" + root_path

    data = _get(env, "STUDIO_DATA")
    data_dir = Path(data).expanduser().resolve() if data else None
    runs = Path(runs_dir or _get(env, "STUDIO_RUNS") or (data_dir / "runs" if data_dir else "runs")).expanduser().resolve()
    cache = _get(env, "STUDIO_CACHE")
    hf_home = _get(env, "HF_HOME")
    return Settings(
        host=host, port=port, root_path=root_path, runs_dir=runs,
        cache_dir=Path(cache).expanduser() if cache else (data_dir / "cache" if data_dir else None),
        hf_home=Path(hf_home).expanduser() if hf_home else (data_dir / "hf" if data_dir else None),
        data_dir=data_dir, space_id=space_id)


def apply_env(settings: Settings | None = None, env: MutableMapping[str, str] | None = None) -> Settings:
    """Export the cache folders the libraries read (``STUDIO_CACHE``, ``HF_HOME``) and create the data folders."""
    env = os.environ if env is None else env
    settings = settings or resolve(env=env)
    if settings.cache_dir is not None:
        env.setdefault("STUDIO_CACHE", str(settings.cache_dir))
    if settings.hf_home is not None:
        env.setdefault("HF_HOME", str(settings.hf_home))
    folders = [settings.runs_dir] + ([settings.data_dir] if settings.data_dir else [])
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StudioError(f"cannot create the folder {folder}: {err.strerror or err}; "
                              "set STUDIO_DATA (or STUDIO_RUNS) to a folder this user can write, "
                              "e.g. a mounted volume") from err
    return settings


def hardware_notice(settings: Settings, gpu_name: str | None) -> str:
    """A line for the page on a Space whose hardware has no GPU (empty elsewhere)."""
    if not settings.on_space or gpu_name:
        return ""
    return ("**This Space runs on CPU hardware.** The embedded models (SmolLM2-135M, MiniLM) train here in a minute "
            "or two; larger models need a GPU: pick GPU hardware in the Space's *Settings*, or duplicate the "
            "Space and choose one there.")
