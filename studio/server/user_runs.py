"""The run store as one person sees it: only their runs, their files, within the operator's limits.

Every request from a web page goes through a ``UserRuns`` (``RunStore.for_user``), never the store itself, so
isolation holds for every endpoint whatever a client sends. Another person's run reads exactly like a run that
does not exist ("no run named ..."): its name, files and metrics never show, not even whether it exists.

``owner`` is an account id (``studio.server.users``; on older run folders, the name that started them). ``owner=None``
sees everything: a single-user studio (no sign-in) and the Admin tab, which alone may hand a run over.

Where a run trains is the operator's choice, never a request's: ``inline`` (inside the web process) is refused to
every run started or resumed here; other launchers only as the policy's ``backends`` allows (default: ``local`` on a
shared studio, ``local`` and ``ray`` on a single-user one); a run trains on one machine; a Ray run goes to the
operator's cluster (``STUDIO_RAY_ADDRESS``) whatever address the request carried, so a request can make the server
connect nowhere else, and no refusal says anything about the address it sent.
"""

from __future__ import annotations

from pathlib import Path

from studio.core.config import StudioConfig
from studio.core.errors import StudioError
from studio.server.policy import in_process


class UserRuns:
    def __init__(self, store, owner: str | None, admin: bool = False):
        self.store = store
        self.owner = owner
        self.admin = admin

    @property
    def shared(self) -> bool:
        """True when runs are kept apart per person (someone is signed in)."""
        return self.owner is not None

    def _missing(self, run_id: str) -> StudioError:
        return StudioError(f"no run named '{run_id}'; pick one from your runs (the Runs tab lists them)")

    def _check(self, run_id: str):
        try:
            info = self.store.info(run_id)
        except StudioError:
            if self.shared:
                raise self._missing(run_id) from None
            raise
        if self.shared and info.owner != self.owner:
            raise self._missing(run_id)
        return info

    # ---- looking --------------------------------------------------------------------------------
    def list(self):
        return self.store.list(owner=self.owner)

    def info(self, run_id: str):
        return self._check(run_id)

    def folder(self, run_id: str):
        self._check(run_id)
        return self.store.folder(run_id)

    def events(self, run_id: str, types: tuple[str, ...] | None = None) -> list[dict]:
        return self.folder(run_id).read_events(types)

    def queue_position(self, run_id: str) -> int | None:
        self._check(run_id)
        return self.store.queue_position(run_id)

    def estimated_wait(self, run_id: str) -> float | None:
        self._check(run_id)
        return self.store.estimated_wait(run_id)

    @property
    def devices(self):
        return self.store.devices

    @property
    def policy(self):
        return self.store.policy

    # ---- files ----------------------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        """This person's uploads and fixed data versions."""
        return self.store.user_dir(self.owner or "")

    def check_path(self, path: str | Path, what: str = "file") -> Path:
        """A file path a client sent: refused when it lies in the runs folder but not in this person's own runs or
        data folder (someone else's run, model or upload), whether or not it exists, with the one refusal of
        ``no_file``. Paths outside the runs folder (the shipped samples, a model folder on the server) are the
        operator's business and allowed; the page checks files in Gradio's upload cache per person
        (``studio.ui.served.check_file``)."""
        resolved = Path(path).expanduser().resolve()
        if not self.shared:
            return resolved
        root = self.store.root
        try:
            resolved.relative_to(root)
        except ValueError:
            return resolved
        mine = [self.data_dir.resolve()] + [Path(r.path).resolve() for r in self.list()]
        if any(resolved == m or m in resolved.parents for m in mine):
            return resolved
        raise self.no_file(resolved, what)

    def no_file(self, path: str | Path, what: str = "file") -> StudioError:
        """The one refusal for a file that is not this person's or does not exist (by file name, never a path)."""
        return StudioError(f"no {what} named '{Path(path).name}'; upload it again or pick one of yours")

    def check_upload(self, path: str | Path) -> None:
        """An uploaded file within the upload limit (the policy's ``upload_mb``, 100 MB by default when shared)."""
        path = Path(path)
        self.policy.check_upload(path.stat().st_size, path.name, shared=self.shared)

    def check_model(self, source: str) -> str:
        """A base model a client picked: within the policy's list, and not someone else's run folder."""
        source = (source or "").strip()
        self.policy.check_model(source)
        if self.shared and ("/" in source or "\\" in source):  # a path: another person's reads as a missing one
            self.check_path(source, "model")
        return source

    # ---- where runs train -------------------------------------------------------------------------
    def place(self, launch) -> None:
        """Make a run's ``launch`` section (a ``LaunchConfig``) what the operator allows, or refuse it. The address
        is always the operator's: a Ray cluster's from ``STUDIO_RAY_ADDRESS``, none otherwise (this machine)."""
        if in_process(launch.backend):
            raise StudioError(f"launch.backend={launch.backend} trains inside the web server's own process, which runs "
                              "started from the page never do; set Where it trains to local (the default)")
        allowed = self.policy.allowed_backends(self.shared)
        if launch.backend not in allowed:
            raise self.policy.refuse(f"runs here train with {' or '.join(allowed)}, not {launch.backend}; "
                                     f"set Where it trains to {allowed[0]}")
        if launch.nodes != 1:
            raise StudioError("a run started from the page trains on one machine (Nodes 1); start a run on several "
                              "machines from the command line: python -m studio train CONFIG --set launch.nodes=N "
                              "--set launch.address=HOST:PORT")
        launch.address = self.store.ray_address if launch.backend == "ray" else ""
        if launch.backend == "ray" and not launch.address:
            raise StudioError("no Ray cluster is set up for this studio (the operator sets STUDIO_RAY_ADDRESS); "
                              "set Where it trains to local")

    def _hide_cluster(self, err: StudioError) -> StudioError:
        """A shared studio's messages name the operator's cluster without its address."""
        address = self.store.ray_address
        if self.shared and address and address in str(err):
            return StudioError(str(err).replace(address, "the studio's Ray cluster (address set by the operator)"))
        return err

    # ---- changing -------------------------------------------------------------------------------
    def submit(self, config: StudioConfig, name: str = "") -> str:
        policy = self.policy
        config = policy.apply_locked(config)
        self.place(config.launch)
        policy.check_code(config, self.shared)
        owner = self.owner or ""
        if policy.active:
            policy.check_run(config, queued=self.store.active_count(owner),
                             disk_bytes=self.store.disk_use(owner) if policy.disk_gb_per_user else 0)
        self.check_model(config.model.source)
        for path in (config.data.train, config.data.eval):
            if path:
                self.check_path(config.resolve_path(path), "data file")
        for entry in config.rewards:  # a reward model or file a grpo run reads: this person's, like the data
            if isinstance(entry, dict) and (entry.get("path") or entry.get("file")):
                self.check_path(config.resolve_path(str(entry.get("path") or entry.get("file"))), "reward file")
        try:
            return self.store.submit(config, name=name, owner=owner)
        except StudioError as err:
            raise self._hide_cluster(err) from None

    def stop(self, run_id: str) -> None:
        self._check(run_id)
        self.store.stop(run_id)

    def resume(self, run_id: str) -> str:
        self._check(run_id)
        if self.policy.queued_per_user and self.store.active_count(self.owner or "") >= self.policy.queued_per_user:
            raise self.policy.refuse(f"you already have {self.policy.queued_per_user} run(s) waiting or training, the "
                                     "most allowed at once; wait for one to finish or stop one")
        launch = StudioConfig.load(self.store.folder(run_id).config_file).launch
        self.place(launch)  # a run made elsewhere (the command line) may have been set to train anywhere
        try:
            return self.store.resume(run_id, launch=launch)
        except StudioError as err:
            raise self._hide_cluster(err) from None

    def delete(self, run_id: str) -> None:
        self._check(run_id)
        self.store.delete(run_id)

    def hand_over(self, run_id: str, owner: str) -> None:
        """Give a finished, stopped or failed run to another account (the Admin tab): its config and status name
        the new owner, so it leaves the old owner's lists and joins the new one's."""
        if self.shared or not self.admin:
            raise StudioError("only an admin can hand a run over")
        info = self._check(run_id)
        if info.state in ("queued", "running"):
            raise StudioError(f"run '{run_id}' is {info.state}; stop it or let it finish, then hand it over")
        folder = self.store.folder(run_id)
        config = StudioConfig.load(folder.config_file)
        config.owner = owner
        config.save(folder.config_file)
        folder.write_status(owner=owner, state=info.state)  # an interrupted run stays interrupted
