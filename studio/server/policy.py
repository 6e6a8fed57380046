"""Limits an operator sets for a shared studio, in one YAML file (``STUDIO_POLICY=FILE``).

Every key is optional; a missing key means no limit, except where a default is said. A workshop's file might read:

    upload_mb: 20            # largest file one upload may be, in MB (default 100 on a shared studio, none on a
                             # single-user one; 0: no limit)
    backends: [local, ray]   # where people's runs may train (launch.backend). Default: local on a shared studio;
                             # local and ray on a single-user one. inline (inside the web process) is never offered;
                             # a plug-in launcher (studio.launchers) is offered once listed here
    queued_per_user: 3       # runs one person may have waiting or training at once
    running_per_user: 1      # runs one person may have training at once (the others wait their turn)
    max_steps: 200           # the most optimizer steps one run may take
    max_minutes: 20          # wall-clock limit per run: a run still training then is stopped (it keeps its model)
    models: [smollm2]        # base models people may pick (sources as typed on the Model tab); empty: any
    methods: [lora]          # lora, qlora, full; empty: any
    disk_gb_per_user: 2      # one person's runs and uploads together
    serve: true              # whether people may serve their runs from the page (OpenAI-compatible API, their own
                             # keys); default true
    serve_per_minute: 30     # requests one API key may make per minute (default 60 on a shared studio; 0: none)
    admins: [teacher]        # who sees the Admin tab (besides users marked admin in the users file)
    trackers: [tensorboard]  # experiment trackers runs may record to (train.report_to); empty: any installed one
    trials_per_sweep: 8      # the most trials one sweep may run
    reward_code: false       # grpo runs may score replies with a Python file of the person's (rewards kind: python);
                             # default false on a shared studio (it runs their code on this server), true on a single-user one
    locked:                  # the instructor's preset: these settings are fixed for everyone
      model.source: smollm2
      method: lora
      train.max_steps: 60

A run started from the page trains on one machine; a Ray run goes to the cluster at ``STUDIO_RAY_ADDRESS``, set by
the operator (the page's requests never choose an address). A shared studio is one with sign-in (``STUDIO_USERS``
or Hugging Face sign-in); a single-user studio has none.

``locked`` keys are config keys (as in ``--set``: ``method``, ``model.source``, ``train.max_steps``, ...); the page shows them fixed and the server
applies them to every run. Each refusal names the limit and says that the operator sets it in this file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from studio.core.errors import StudioError

KEYS = ("upload_mb", "queued_per_user", "running_per_user", "max_steps", "max_minutes", "models", "methods",
        "disk_gb_per_user", "admins", "locked", "backends", "serve", "serve_per_minute", "trackers",
        "trials_per_sweep", "reward_code")
DEFAULT_SERVE_PER_MINUTE = 60  # requests per API key per minute on a shared studio when the file says nothing
DEFAULT_UPLOAD_MB = 100  # a shared studio's upload limit when the policy file does not set one
UNZIP_FACTOR = 2  # an uploaded zip may unpack to twice the upload limit (images barely compress; text does)
DEFAULT_BACKENDS = ("local", "ray")  # where runs from the page train when the file says nothing (shared: local only)


def web_backends() -> list[str]:
    """The launchers a policy may offer the page: every registered one that does not train inside the web
    server's own process (never inline)."""
    from studio import launchers

    return [k for k in launchers.kinds() if not getattr(launchers.find(k), "in_process", False)]


def in_process(kind: str) -> bool:
    """Whether launcher ``kind`` trains inside the calling process (the web server's, for a run from the page)."""
    from studio import launchers

    return bool(getattr(launchers.find(kind), "in_process", False))


@dataclass
class Policy:
    upload_mb: float = 0.0
    queued_per_user: int = 0
    running_per_user: int = 0
    max_steps: int = 0
    max_minutes: float = 0.0
    models: list = field(default_factory=list)
    methods: list = field(default_factory=list)
    disk_gb_per_user: float = 0.0
    admins: list = field(default_factory=list)
    locked: dict = field(default_factory=dict)
    backends: list = field(default_factory=list)
    serve: bool = True
    serve_per_minute: float = 0.0
    trackers: list = field(default_factory=list)
    trials_per_sweep: int = 0
    reward_code: bool = False
    source: str = ""  # the file it came from, for messages
    given: frozenset = frozenset()  # the keys the file sets (an explicit ``upload_mb: 0`` turns the default off)

    @classmethod
    def load(cls, path: str | Path | None) -> Policy:
        if not path:
            return cls()
        import yaml

        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as err:
            raise StudioError(f"cannot read the policy file {path}: {err}") from err
        if not isinstance(data, dict):
            raise StudioError(f"the policy file {path} must be a mapping of limits (key: value)")
        unknown = sorted(set(data) - set(KEYS))
        if unknown:
            raise StudioError(f"the policy file {path} has unknown key(s) {', '.join(unknown)}; known: {', '.join(KEYS)}")
        policy = cls(source=str(path))
        for key, value in data.items():
            default = getattr(policy, key)
            try:
                if isinstance(default, bool):
                    if not isinstance(value, bool):
                        raise TypeError(value)
                elif isinstance(default, list):
                    value = [str(v) for v in (value or [])]
                elif isinstance(default, dict):
                    value = dict(value or {})
                elif isinstance(default, bool):
                    value = value if isinstance(value, bool) else str(value).lower() in ("true", "yes", "on", "1")
                else:
                    value = type(default)(value or 0)
            except (TypeError, ValueError) as err:
                raise StudioError(f"the policy file {path}: {key} has a bad value {value!r}") from err
            setattr(policy, key, value)
        policy.given = frozenset(data)
        offered = web_backends()
        bad = [b for b in policy.backends if b not in offered]
        if bad:
            inside = [b for b in bad if in_process(b)]
            raise StudioError(f"the policy file {path}: backends may list {', '.join(offered)}, not {', '.join(bad)}"
                              + (f"; {', '.join(inside)} trains inside the web server's own process and is never "
                                 "offered to the page" if inside else ""))
        from studio.core.config import TRACKERS

        if [t for t in policy.trackers if t not in TRACKERS]:
            raise StudioError(f"the policy file {path}: trackers may list {', '.join(TRACKERS)}, not "
                              f"{', '.join(t for t in policy.trackers if t not in TRACKERS)}")
        if policy.locked:
            from studio.core.config import StudioConfig

            policy.apply_locked(StudioConfig())  # an unknown key fails here, at start-up, naming the key
        return policy

    @property
    def active(self) -> bool:
        return any(getattr(self, k) for k in KEYS if k != "serve") or not self.serve

    def upload_limit_mb(self, shared: bool) -> float:
        """The largest upload in MB (0: no limit): the file's ``upload_mb``, else 100 on a shared studio."""
        if self.upload_mb or "upload_mb" in self.given:
            return max(0.0, float(self.upload_mb))
        return float(DEFAULT_UPLOAD_MB) if shared else 0.0

    def unzip_bytes(self, shared: bool) -> int | None:
        """The most an uploaded zip may unpack to (None: the reader's own limit): ``UNZIP_FACTOR`` times the upload
        limit, so that a small zip cannot fill the disk of a studio that limits uploads."""
        limit = self.upload_limit_mb(shared)
        return int(limit * UNZIP_FACTOR * 1_000_000) if limit else None

    def upload_bytes(self, shared: bool) -> int | None:
        """The upload limit for Gradio's ``max_file_size`` (None: no limit)."""
        limit = self.upload_limit_mb(shared)
        return int(limit * 1_000_000) if limit else None

    def allowed_backends(self, shared: bool) -> list[str]:
        """Where runs from the page may train: the file's ``backends``, else local (shared) or local and ray."""
        if self.backends:
            offered = web_backends()
            return [b for b in self.backends if b in offered]
        return list(DEFAULT_BACKENDS[:1]) if shared else list(DEFAULT_BACKENDS)

    def serve_rate(self, shared: bool) -> float:
        """Requests per API key per minute (0: no limit): the file's ``serve_per_minute``, else 60 when shared."""
        if "serve_per_minute" in self.given:
            return max(0.0, float(self.serve_per_minute))
        return float(DEFAULT_SERVE_PER_MINUTE) if shared else 0.0

    def check_serve(self) -> None:
        if not self.serve:
            raise self.refuse("serving runs from the page is off on this studio")

    def who(self) -> str:
        return f"the operator sets this in the policy file {Path(self.source).name}" if self.source else "the operator"

    def refuse(self, what: str) -> StudioError:
        return StudioError(f"{what} ({self.who()})")

    # ---- runs ---------------------------------------------------------------------------------
    def apply_locked(self, config):
        """``config`` (a StudioConfig) with the instructor's fixed settings."""
        if not self.locked:
            return config
        try:
            return config.with_overrides([f"{k}={v}" for k, v in self.locked.items()])
        except StudioError as err:
            raise StudioError(f"the policy file {self.source}, locked: {err}") from err

    def check_run(self, config, queued: int, disk_bytes: float) -> None:
        """Refuse a new run that breaks a limit. ``queued``: the person's runs waiting or training now."""
        if self.models and config.model.source not in self.models:
            raise self.refuse(f"the model '{config.model.source}' is not offered here; pick one of: {', '.join(self.models)}")
        if self.methods and config.method not in self.methods:
            raise self.refuse(f"the method '{config.method}' is not offered here; pick one of: {', '.join(self.methods)}")
        if self.max_steps and config.train.max_steps > self.max_steps:
            raise self.refuse(f"{config.train.max_steps} steps is over the limit of {self.max_steps} per run; "
                              f"set Max steps to {self.max_steps} or fewer")
        if self.max_steps and config.train.max_steps <= 0:
            raise self.refuse(f"runs here are limited to {self.max_steps} steps; set Max steps (not epochs)")
        off = [t for t in (config.train.report_to or []) if self.trackers and t not in self.trackers]
        if off:
            raise self.refuse(f"the tracker '{off[0]}' is not offered here; pick from: {', '.join(self.trackers)}")
        if self.queued_per_user and queued >= self.queued_per_user:
            raise self.refuse(f"you already have {queued} run(s) waiting or training, the most allowed at once; "
                              "wait for one to finish or stop one")
        if self.disk_gb_per_user and disk_bytes >= self.disk_gb_per_user * 1e9:
            raise self.refuse(f"your runs and uploads use {disk_bytes / 1e9:.1f} GB of the {self.disk_gb_per_user:g} GB "
                              "allowed per person; delete runs you no longer need")

    def check_code(self, config, shared: bool) -> None:
        """Refuse a run whose rewards run code from a file (grpo's ``python`` kind) on a shared studio, unless the
        file says ``reward_code: true``."""
        if not shared or self.reward_code:
            return
        if any(isinstance(e, dict) and e.get("kind") == "python" for e in getattr(config, "rewards", None) or []):
            raise self.refuse("rewards of kind python run code on this server, which this studio does not allow "
                              "(policy reward_code); use the rewards built without code (format, numeric_match, "
                              "length, ...)")

    def check_upload(self, size_bytes: int, name: str, shared: bool = False) -> None:
        limit = self.upload_limit_mb(shared)
        if limit and size_bytes > limit * 1e6:
            raise self.refuse(f"{name} is {size_bytes / 1e6:.1f} MB, over the {limit:g} MB upload limit; "
                              "upload a smaller file (a sample of the rows)")

    def check_model(self, source: str) -> None:
        if self.models and source not in self.models:
            raise self.refuse(f"the model '{source}' is not offered here; pick one of: {', '.join(self.models)}")

    def lines(self, shared: bool = False) -> list[str]:
        """The limits in words, for the page (``shared``: with a shared studio's defaults)."""
        out = []
        if self.locked:
            out.append("fixed by the instructor: " + ", ".join(f"{k.split('.')[-1]} = {v}" for k, v in self.locked.items()))
        if self.upload_limit_mb(shared):
            out.append(f"uploads up to {self.upload_limit_mb(shared):g} MB")
        words = {"queued_per_user": "{} run(s) waiting or training per person",
                 "running_per_user": "{} run(s) training at once per person", "max_steps": "up to {} steps per run",
                 "max_minutes": "up to {} minutes per run", "disk_gb_per_user": "{} GB of disk per person"}
        out += [w.format(f"{getattr(self, k):g}" if isinstance(getattr(self, k), float) else getattr(self, k))
                for k, w in words.items() if getattr(self, k)]
        if self.models:
            out.append("models: " + ", ".join(self.models))
        if self.methods:
            out.append("methods: " + ", ".join(self.methods))
        if self.backends:
            out.append("runs train with: " + ", ".join(self.backends))
        if not self.serve:
            out.append("no serving from the page")
        elif self.serve_rate(shared):
            out.append(f"{self.serve_rate(shared):g} API requests per minute per key")
        if self.trackers:
            out.append("experiment trackers: " + ", ".join(self.trackers))
        if self.trials_per_sweep:
            out.append(f"up to {self.trials_per_sweep} trials per sweep")
        return out
