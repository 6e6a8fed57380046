"""Uploading an export folder to the Hugging Face Hub with a token that is used once and never stored."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable

from studio.core.errors import StudioError

Progress = Callable[[float, str], None]
REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$|^[A-Za-z0-9][\w.-]{0,95}$")


def push_to_hub(export_dir: str | Path, repo_id: str, token: str, private: bool = True,
                progress: Progress | None = None) -> str:
    """Upload an export folder to a model repository on the Hub; returns its address.

    The token is used for this call only: it is not saved, logged or put into any message.
    """
    report = progress or (lambda fraction, message: None)
    export_dir = Path(export_dir)
    if not (export_dir / "README.md").exists():
        raise StudioError(f"{export_dir} is not an export folder; export the run first")
    repo_id = (repo_id or "").strip()
    if not REPO_ID.match(repo_id):
        raise StudioError(f"--push-to: '{repo_id}' is not a repository id; use your-name/model-name")
    if not token or not token.strip():
        raise StudioError("pushing to the Hugging Face Hub needs a token with write access "
                          "(huggingface.co/settings/tokens); give it in the token box or an environment variable")
    token = token.strip()
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        raise StudioError("cannot push to the Hugging Face Hub: offline mode is on (HF_HUB_OFFLINE=1); "
                          f"unset it on a machine with internet, or upload {export_dir} later")
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    try:
        report(0.1, f"creating {repo_id}")
        url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        report(0.3, "uploading")
        api.upload_folder(repo_id=repo_id, folder_path=str(export_dir), repo_type="model",
                          commit_message="Upload fine-tuned model")
    except Exception as err:  # noqa: BLE001 - turned into a message without the token
        raise StudioError(_hub_message(err, repo_id, token)) from None
    report(1.0, "done")
    return str(getattr(url, "url", None) or url or f"https://huggingface.co/{repo_id}")


def _hub_message(err: Exception, repo_id: str, token: str) -> str:
    name = type(err).__name__
    text = str(err).replace(token, "***").splitlines()[0] if str(err) else name
    status = getattr(getattr(err, "response", None), "status_code", None)
    if name == "OfflineModeIsEnabled":
        return "cannot push to the Hugging Face Hub: offline mode is on (HF_HUB_OFFLINE=1); unset it on a machine with internet"
    if status == 401:
        return "the Hugging Face Hub rejected the token; create one with write access at huggingface.co/settings/tokens"
    if status == 403:
        return f"the token may not write to {repo_id}; use a token with write access to that user or organisation"
    if status is None and any(w in (name + text).lower() for w in ("connect", "timeout", "resolve", "network", "unreachable")):
        return f"could not reach the Hugging Face Hub ({name}); check the internet connection, then push again"
    return f"pushing to {repo_id} failed: {text}"
