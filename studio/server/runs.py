"""The run store: where runs live, who owns them, and the queue that starts them on the devices.

A store is a folder of run folders (see ``studio.core.runfolder``). Queued runs start when the device scheduler
(``studio.server.scheduler``) has devices for them, people taking turns (one person's ten runs do not hold back the
next person's first), each through a launcher (``studio.launchers``): by
default a process of its own, so that a crash, a kernel fault or the out-of-memory killer ends that run and
not the app. Every state lives in the run folders, so a page reload, a second browser tab or a restart of the
app sees the same runs; after a restart the store finds runs whose process still trains and follows them. A
run whose process is gone without a final word shows as ``interrupted`` (or ``failed`` with the reason, when
the store saw it end) and can be resumed from its last checkpoint. Runs still waiting in the queue when the app
stopped wait again in a new store, in their place: the order they were queued in, people taking turns as before
(each launch record says when the run started, so who was served last is known after a restart too).

The store holds no global state: the app makes one and hands it to whoever needs it.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from studio import launchers
from studio.core.config import StudioConfig
from studio.core.procs import process_alive, start_time, status_alive
from studio.core.errors import StudioError
from studio.server.policy import Policy
from studio.core.runfolder import RunFolder
from studio.server.scheduler import Devices


@dataclass
class RunInfo:
    id: str
    path: str
    state: str  # queued | running | finished | stopped | failed | interrupted
    step: int
    max_steps: int
    owner: str
    task: str
    method: str
    model: str
    created: float
    message: str
    has_model: bool
    can_resume: bool

    def to_dict(self) -> dict:
        return asdict(self)


def _slug(text: str) -> str:
    s = re.sub(r"[^a-zA-Z0-9]+", "-", text).strip("-").lower()
    return s[:40] or "run"


class RunStore:
    def __init__(self, root: str | Path, launcher: str | None = None, devices: Devices | None = None,
                 stop_grace: float | None = None, policy: Policy | None = None, ray_address: str | None = None):
        """``launcher``: the backend for every run (e.g. "inline" in tests), else each run's ``launch.backend``.
        ``devices``: what the scheduler hands out (default: this machine's). ``stop_grace``: seconds a run gets to
        stop after Stop before its processes are ended (default: two of its steps plus ten seconds). ``policy``:
        an operator's limits (``studio.server.policy``): runs training at once per person, minutes per run. ``ray_address``:
        the operator's Ray cluster for runs started from the page (default: ``STUDIO_RAY_ADDRESS``)."""
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.backend = launcher
        self.devices = devices or Devices.detect()
        self.stop_grace = stop_grace
        self.policy = policy or Policy()
        self.ray_address = (os.environ.get("STUDIO_RAY_ADDRESS", "") if ray_address is None else ray_address).strip()
        self._launchers: dict[str, launchers.Launcher] = {}
        self._pending: list[tuple[str, StudioConfig, bool]] = []  # (run id, config, resume), in the order they came
        self._served: dict[str, float] = {}  # owner -> when one of their runs last started (the fair queue's memory)
        self._running: dict[str, dict] = {}  # run id -> launcher handle
        self._configs: dict[str, tuple[int, StudioConfig]] = {}  # run folder -> (file time, parsed config)
        self._owners: dict[str, str] = {}  # run id -> owner, for runs started here (the per-person running limit)
        self._cond = threading.Condition()
        self._dispatcher: threading.Thread | None = None
        self._closed = False
        self._adopt()

    # ---- looking ---------------------------------------------------------------------------
    def folder(self, run_id: str) -> RunFolder:
        if not run_id or "/" in run_id or "\\" in run_id or run_id.startswith("."):
            raise StudioError(f"not a run name: {run_id!r}")
        path = self.root / run_id
        if not (path / "config.yaml").exists():
            raise StudioError(f"no run named '{run_id}' in {self.root}")
        return RunFolder(path)

    def _config(self, folder: RunFolder) -> StudioConfig:
        """A run's config, parsed once per change of its file (every page's poll asks for it)."""
        try:
            stamp = folder.config_file.stat().st_mtime_ns
        except OSError:
            return StudioConfig()
        key = str(folder.path)
        with self._cond:
            cached = self._configs.get(key)
        if cached and cached[0] == stamp:
            return cached[1]
        try:
            cfg = StudioConfig.load(folder.config_file)
        except StudioError:
            cfg = StudioConfig()
        with self._cond:
            self._configs[key] = (stamp, cfg)
            if len(self._configs) > 512:
                self._configs.pop(next(iter(self._configs)))
        return cfg

    def info(self, run_id: str) -> RunInfo:
        folder = self.folder(run_id)
        status = folder.read_status()
        cfg = self._config(folder)
        state = status.get("state", "queued")
        if state in ("running", "queued") and not self._alive(run_id, status):
            state = "interrupted"
        return RunInfo(
            id=run_id, path=str(folder.path), state=state, step=int(status.get("step") or 0),
            max_steps=int(status.get("max_steps") or 0), owner=status.get("owner", cfg.owner),
            task=cfg.task, method=cfg.method, model=cfg.model.source, created=float(status.get("started") or folder.config_file.stat().st_mtime),
            message=status.get("message", ""), has_model=folder.has_model(),
            can_resume=state in ("stopped", "interrupted", "failed"),
        )

    def _alive(self, run_id: str, status: dict) -> bool:
        with self._cond:
            if run_id in self._running or any(p[0] == run_id for p in self._pending):
                return True
        handle = status.get("launch") or {}
        if not handle and status.get("pid") == os.getpid():
            return False
        # the launcher's answer for its handle (a process per run, torchrun, a thread, a Ray job), else the process
        # that wrote the status (a run from elsewhere, or of a launcher not installed here)
        if not launchers.find(handle.get("kind") or ""):
            return status_alive(status)
        try:
            return self._launcher(handle["kind"]).alive(handle)
        except StudioError:
            return False

    def list(self, owner: str | None = None) -> list[RunInfo]:
        """Every run, newest first; with ``owner``, only that owner's runs."""
        out = []
        for path in self.root.iterdir():
            if path.is_dir() and (path / "config.yaml").exists():
                info = self.info(path.name)
                if owner is None or info.owner == owner:
                    out.append(info)
        return sorted(out, key=lambda r: r.created, reverse=True)

    def events(self, run_id: str, types: tuple[str, ...] | None = None) -> list[dict]:
        return self.folder(run_id).read_events(types)

    def for_user(self, owner: str | None, admin: bool = False):
        """This store as one person sees it (``studio.server.user_runs``); ``None``: everything."""
        from studio.server.user_runs import UserRuns

        return UserRuns(self, owner, admin=admin)

    def check_owner(self, run_id: str, owner: str | None) -> None:
        if owner is not None and self.info(run_id).owner != owner:
            raise StudioError(f"run '{run_id}' belongs to someone else")

    # ---- starting and stopping -------------------------------------------------------------
    def new_id(self, name: str = "") -> str:
        base = f"{time.strftime('%Y%m%d-%H%M%S')}-{_slug(name or 'run')}"
        run_id, n = base, 1
        while (self.root / run_id).exists():
            n += 1
            run_id = f"{base}-{n}"
        return run_id

    def check(self, config: StudioConfig) -> list[str]:
        """Everything that can be said about a config before it is queued: its task's checks and where it would run."""
        from studio import tasks

        kind = self.backend or config.launch.backend
        launcher = self._launcher(kind)  # an unknown kind: said here, naming the known ones
        warnings = tasks.check(config, cuda=None if launcher.in_process else bool(self.devices.gpus))
        return warnings + launchers.check(config, len(self.devices.gpus), os.cpu_count() or 1, kind=kind)

    def submit(self, config: StudioConfig, name: str = "", owner: str = "") -> str:
        """Queue a new run; returns its id. Its folder exists (state queued) when this returns."""
        self.check(config)
        run_id = self.new_id(name or Path(config.data.train).stem)
        config.output_dir = str(self.root / run_id)
        config.owner = owner
        # data paths absolute: the run reads its config from its own folder, wherever the config came from
        config.data.train = str(Path(config.resolve_path(config.data.train)).resolve())
        if config.data.eval:
            config.data.eval = str(Path(config.resolve_path(config.data.eval)).resolve())
        folder = RunFolder(config.output_dir)
        folder.path.mkdir(parents=True)
        config.save(folder.config_file)  # visible in the list at once; training rewrites it resolved
        now = time.time()
        folder.write_status(state="queued", step=0, owner=owner, message="waiting for the device", started=now,
                            **self._queued_fields(now, resume=False))
        self._enqueue(run_id, config, resume=False)
        return run_id

    def resume(self, run_id: str, owner: str | None = None, launch=None) -> str:
        """Queue a stopped, failed or interrupted run again; it continues from its last checkpoint. ``launch``: a
        ``LaunchConfig`` to train with instead of the one saved with the run (written into its config)."""
        self.check_owner(run_id, owner)
        info = self.info(run_id)
        if info.state in ("running", "queued"):
            raise StudioError(f"run '{run_id}' is already {info.state}")
        folder = self.folder(run_id)
        config = StudioConfig.load(folder.config_file)
        if launch is not None and launch != config.launch:
            config.launch = launch
            config.save(folder.config_file)  # the launcher reads the run's config from its folder
        config.train.resume = True
        folder.clear_stop()
        folder.write_launch(None)  # the last attempt's record: this one has not started yet
        folder.write_status(state="queued", message="waiting for the device", **self._queued_fields(time.time(), True))
        self._enqueue(run_id, config, resume=True)
        return run_id

    @staticmethod
    def _queued_fields(now: float, resume: bool) -> dict:
        """What a queued run's status keeps so that a new store can queue it again after a restart: when it was
        queued, whether it resumes, and the process that queued it (with its start time, against reused ids)."""
        return {"queued_at": now, "resume": resume, "queued_by": {"pid": os.getpid(), "host": socket.gethostname(),
                                                             "started": start_time(os.getpid())}}

    def close(self) -> None:
        """Stop starting queued runs (the app is shutting down): they stay queued in their folders, and the next
        store on this folder queues them again. Runs already training are not touched."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def stop(self, run_id: str, owner: str | None = None) -> None:
        """Ask a run to stop after its current step (it keeps a checkpoint and its model so far). When it does not
        within the grace period, its processes are ended (SIGTERM, then SIGKILL) and it can resume."""
        self.check_owner(run_id, owner)
        folder = self.folder(run_id)
        folder.request_stop()  # read by the run after every step, in whatever process it trains
        with self._cond:
            waiting = [p for p in self._pending if p[0] == run_id]
            for p in waiting:
                self._pending.remove(p)
            followed = run_id in self._running
        if waiting:
            folder.clear_stop()
            folder.write_status(state="stopped", message="stopped before it started")
            return
        if followed:
            threading.Thread(target=self._escalate, args=(run_id,), daemon=True, name=f"studio-stop-{run_id}").start()

    def wait(self, run_id: str, timeout: float | None = None) -> RunInfo:
        """Block until the run is no longer queued or running and its processes have ended (for scripts and tests)."""
        deadline = None if timeout is None else time.time() + timeout
        while True:
            info = self.info(run_id)
            with self._cond:
                ours = run_id in self._running
            if info.state not in ("queued", "running") and not ours:
                return info
            if deadline is not None and time.time() > deadline:
                return info
            time.sleep(0.2)

    def delete(self, run_id: str) -> None:
        """Remove a run that is not queued or training, with everything in its folder."""
        import shutil

        info = self.info(run_id)
        if info.state in ("queued", "running"):
            raise StudioError(f"run '{run_id}' is {info.state}; stop it first, then delete it")
        shutil.rmtree(self.folder(run_id).path)

    def user_dir(self, owner: str) -> Path:
        """The folder for one person's uploads and fixed data versions (``_data`` on a single-user studio)."""
        import hashlib

        base = self.root / "_data"
        if not owner:
            return base
        safe = owner if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", owner) else \
            "u-" + hashlib.sha256(owner.encode("utf-8")).hexdigest()[:16]
        return base / "users" / safe

    def disk_use(self, owner: str) -> int:
        """Bytes in this person's run folders and data folder."""
        def size(path: Path) -> int:
            return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0

        total = sum(size(Path(r.path)) for r in self.list(owner=owner))
        return total + (size(self.user_dir(owner)) if owner else 0)

    # ---- the queue ---------------------------------------------------------------------------
    def _launcher(self, kind: str) -> launchers.Launcher:
        with self._cond:
            if kind not in self._launchers:
                self._launchers[kind] = launchers.make(kind)
            return self._launchers[kind]

    def _launcher_of(self, config: StudioConfig) -> launchers.Launcher | None:
        """The launcher a run will start through; None for a kind not installed here (its start fails, saying so)."""
        try:
            return self._launcher(self.backend or config.launch.backend)
        except StudioError:
            return None

    def _enqueue(self, run_id: str, config: StudioConfig, resume: bool) -> None:
        self._enqueue_all([(run_id, config, resume)])

    def _enqueue_all(self, items: list[tuple[str, StudioConfig, bool]]) -> None:
        """Queue runs in this order, all at once (the dispatcher sees them together, so the fair order holds)."""
        with self._cond:
            if self._closed:
                raise StudioError("the studio is shutting down; start the run again in a minute")
            self._pending.extend(items)
            if self._dispatcher is None or not self._dispatcher.is_alive():
                self._dispatcher = threading.Thread(target=self._dispatch, name=f"studio-queue-{self.root.name}",
                                                    daemon=True)
                self._dispatcher.start()
            self._cond.notify_all()

    def _dispatch(self) -> None:
        """Start queued runs in order as devices free up."""
        while True:
            with self._cond:
                if self._closed:
                    self._dispatcher = None
                    return
                if not self._pending:
                    self._cond.wait(timeout=5)
                    if not self._pending:
                        self._dispatcher = None
                        return
                    continue
                ready = [item for item in self._order() if self._may_run(item[1].owner or "")]
                if not ready:
                    self._cond.wait(timeout=2)
                    continue
                run_id, config, resume = ready[0]
                want = config.launch.processes if self.devices.gpus else 1
                grant = self.devices.acquire(run_id, want, self._memory(config), self._launcher_of(config))
                if grant is None:
                    self._cond.wait(timeout=2)  # a run ending notifies; the timeout also catches adopted runs ending
                    continue
                self._pending.remove(next(p for p in self._pending if p[0] == run_id))
                if not self._still_waiting(run_id):  # stopped, deleted or started elsewhere meanwhile
                    self.devices.release(run_id)
                    continue
                self._served[config.owner or ""] = time.time()
                self._owners[run_id] = config.owner or ""
                self._running[run_id] = {}  # starting: neither queued nor followed yet, but not gone
            self._start(run_id, config, resume, grant)

    def _still_waiting(self, run_id: str) -> bool:
        status = RunFolder(self.root / run_id).read_status()
        return status.get("state") == "queued" and not status.get("launch")

    def _order(self) -> list[tuple[str, StudioConfig, bool]]:
        """The pending runs in the order they will start: people take turns (the one served longest ago first,
        someone never served before anyone), and each person's runs go in the order they were queued.
        Call with the lock held."""
        queues: dict[str, list] = {}
        for item in self._pending:
            queues.setdefault(item[1].owner or "", []).append(item)
        served = dict(self._served)
        out: list = []
        while queues:
            owner = min(queues, key=lambda o: (served.get(o, float("-inf")), self._pending.index(queues[o][0])))
            out.append(queues[owner].pop(0))
            served[owner] = time.time() + len(out)  # in this simulated order, just served
            if not queues[owner]:
                del queues[owner]
        return out

    def _may_run(self, owner: str) -> bool:
        """Whether the policy lets this person start another run now (with the lock held)."""
        limit = self.policy.running_per_user
        return not limit or sum(1 for r in self._running if self._owners.get(r) == owner) < limit

    def active_count(self, owner: str) -> int:
        """This person's runs waiting or training in this store."""
        with self._cond:
            pending = sum(1 for p in self._pending if (p[1].owner or "") == owner)
            running = sum(1 for r in self._running if self._owners.get(r) == owner)
        adopted = sum(1 for r in self.list(owner=owner) if r.state == "running" and r.id not in self._owners)
        return pending + running + adopted

    def queue_position(self, run_id: str) -> int | None:
        """1 for the run that starts next, 2 after it, ...; None when the run is not waiting in this store's queue."""
        with self._cond:
            ids = [item[0] for item in self._order()]
        return ids.index(run_id) + 1 if run_id in ids else None

    def estimated_wait(self, run_id: str) -> float | None:
        """Seconds until a queued run is likely to start: the soonest end among running runs, then the runs ahead
        of it at the typical length of runs here. None when the run is not queued or there is nothing to go by."""
        position = self.queue_position(run_id)
        if position is None:
            return None
        first, typical, slots = self._wait_basis()
        if first is None and typical is None:
            return None
        if position > 1 and typical is None:
            return None
        return (first or 0.0) + (position - 1) * (typical or 0.0) / slots

    WAIT_BASIS_SECONDS = 2.0  # how long the queue's timing is reused: every queued page asks for it once a second

    def _wait_basis(self) -> tuple[float | None, float | None, int]:
        """(soonest end among running runs, typical length of a finished run, parallel slots), read from the run
        folders at most every WAIT_BASIS_SECONDS: with 20 people queued, each page's poll would otherwise read every
        run's status and end events."""
        now = time.monotonic()
        cached = getattr(self, "_wait_cache", None)
        if cached is not None and now - cached[0] < self.WAIT_BASIS_SECONDS:
            return cached[1]
        with self._cond:
            running = [r for r in self._running]
        left = [x for x in (self._time_left(r) for r in running) if x is not None]
        lengths = [e["runtime"] for r in self.list()[:20] if r.state == "finished"
                   for e in self.folder(r.id).read_events(("end",))[-1:] if e.get("runtime")]
        basis = (min(left) if left else None, sum(lengths) / len(lengths) if lengths else None,
                 max(1, len(self.devices.gpus) or self.devices.cpu_runs))
        self._wait_cache = (now, basis)
        return basis

    def _time_left(self, run_id: str) -> float | None:
        logs = self.folder(run_id).read_events(("log",))
        if len(logs) < 2 or not logs[-1].get("max_steps"):
            return None
        span = logs[-1]["step"] - logs[0]["step"]
        if span <= 0:
            return None
        per_step = (logs[-1]["elapsed"] - logs[0]["elapsed"]) / span
        return max(0.0, (logs[-1]["max_steps"] - logs[-1]["step"]) * per_step)

    def _memory(self, config: StudioConfig) -> float:
        """The run's memory estimate in bytes, when GPUs may be shared (0: it gets a GPU of its own)."""
        if not (self.devices.share and self.devices.gpus):
            return 0.0
        try:
            from studio import tasks
            from studio.core import estimate, models

            shape = estimate.ModelShape.from_describe(models.describe(config.model.source))
            found = tasks.find(config.task)
            logits = found.vocab_logits if found else True
            return float(estimate.estimate_for_config(config, shape, vocab_logits=logits).total_bytes)
        except Exception:  # noqa: BLE001 - without an estimate the run simply does not share
            return 0.0

    def _start(self, run_id: str, config: StudioConfig, resume: bool, grant) -> None:
        folder = RunFolder(self.root / run_id)
        kind = self.backend or config.launch.backend
        try:
            launcher = self._launcher(kind)
            handle = launcher.launch(folder.path, env=grant.env(), resume=resume)
        except Exception as err:  # noqa: BLE001 - the run fails with the reason; the queue goes on
            self.devices.release(run_id)
            message = str(err) if isinstance(err, StudioError) else f"{type(err).__name__}: {err}"
            folder.emit({"type": "error", "message": message, "hint": "fix the cause, then resume it"})
            folder.write_status(state="failed", message=message, hint="fix the cause, then resume it")
            with self._cond:
                self._running.pop(run_id, None)
                self._owners.pop(run_id, None)
                self._cond.notify_all()
            return
        handle["devices"] = list(grant.gpus)
        handle["launched"] = time.time()  # who was served when: the fair queue's memory across restarts
        folder.write_launch(handle)
        with self._cond:
            self._running[run_id] = handle
        threading.Thread(target=self._follow, args=(run_id, handle, launcher), daemon=True,
                         name=f"studio-follow-{run_id}").start()

    def _follow(self, run_id: str, handle: dict, launcher: launchers.Launcher) -> None:
        """Wait for a run's processes to end; then free its devices and, if it ended without a final status, say why."""
        started, limited = time.time(), False
        try:
            while launcher.alive(handle):
                time.sleep(0.5)
                limit = self.policy.max_minutes
                if limit and not limited and time.time() - started > limit * 60:
                    limited = True
                    folder = RunFolder(self.root / run_id)
                    folder.emit({"type": "warning", "message": f"stopped at the limit of {limit:g} minutes per run "
                                 f"({self.policy.who()}); the model so far is kept"})
                    folder.request_stop()
                    threading.Thread(target=self._escalate, args=(run_id,), daemon=True).start()
            launchers.record_exit(RunFolder(self.root / run_id), launcher.exit_code(handle))
            launcher.forget(handle)
        finally:
            self.devices.release(run_id)
            with self._cond:
                self._running.pop(run_id, None)
                self._owners.pop(run_id, None)
                self._cond.notify_all()

    def _escalate(self, run_id: str) -> None:
        """After Stop: give the run its grace period to finish the step and save, then end its processes."""
        deadline = time.time() + (self.stop_grace if self.stop_grace is not None else self._grace(run_id))
        while True:
            with self._cond:
                if run_id not in self._running:
                    return  # it ended
                handle = self._running[run_id]
            if time.time() >= deadline and handle:
                break
            time.sleep(0.2)
        self._launcher(handle.get("kind") or launchers.DEFAULT).stop(handle, grace=5.0)

    def _grace(self, run_id: str) -> float:
        """Two of the run's steps plus ten seconds (a minute when it has not logged a step yet)."""
        logs = self.folder(run_id).read_events(("log",))
        if len(logs) >= 2 and logs[-1]["step"] > logs[0]["step"]:
            per_step = (logs[-1]["elapsed"] - logs[0]["elapsed"]) / (logs[-1]["step"] - logs[0]["step"])
            return 2 * per_step + 10.0
        return 60.0

    def _adopt(self) -> None:
        """After a restart: follow runs whose processes still train, and keep their devices taken; queue again the
        runs that were waiting, in the order they were queued, remembering who was served last."""
        waiting = []
        for path in self.root.iterdir():
            if not (path / "config.yaml").exists():
                continue
            folder = RunFolder(path)
            status = folder.read_status()
            handle = status.get("launch") or {}
            if handle.get("launched"):
                owner = status.get("owner", "")
                self._served[owner] = max(self._served.get(owner, 0.0), float(handle["launched"]))
            if status.get("state") == "queued" and not handle:
                if self._orphaned(status):
                    waiting.append((float(status.get("queued_at") or status.get("started") or 0), path.name, status))
                continue
            if status.get("state") not in ("running", "queued") or not handle:
                continue
            try:
                launcher = self._launcher(handle["kind"])
            except (StudioError, KeyError):
                continue
            if not launcher.can_adopt(handle) or not launcher.alive(handle):
                continue
            if launcher.local_slot:  # a run its cluster schedules holds nothing here
                self.devices.reserve(path.name, [str(g) for g in handle.get("devices") or []])
            with self._cond:
                self._running[path.name] = handle
            threading.Thread(target=self._follow, args=(path.name, handle, launcher), daemon=True,
                             name=f"studio-follow-{path.name}").start()
        items = []
        for _, run_id, status in sorted(waiting, key=lambda w: (w[0], w[1])):
            folder = RunFolder(self.root / run_id)
            try:
                config = StudioConfig.load(folder.config_file)
            except StudioError as err:
                folder.write_status(state="failed", message=f"could not queue it again after a restart: {err}",
                                    hint="fix its config.yaml, then resume it")
                continue
            config.train.resume = bool(status.get("resume"))
            queued_at = float(status.get("queued_at") or status.get("started") or time.time())
            folder.write_status(**self._queued_fields(queued_at, config.train.resume))  # this store's queue now
            items.append((run_id, config, config.train.resume))
        if items:
            self._enqueue_all(items)

    @staticmethod
    def _orphaned(status: dict) -> bool:
        """Whether a queued run's queue is gone: the process that queued it has ended, or it is this process (an
        earlier store here was dropped). A queue in another running process keeps its runs."""
        by = status.get("queued_by") or {"pid": status.get("pid"), "host": status.get("host")}
        if by.get("pid") == os.getpid() and by.get("host") in (None, socket.gethostname()):
            return True
        return not process_alive(by.get("pid"), by.get("host"), by.get("started"))
