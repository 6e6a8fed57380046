"""Many people on one shared studio, measured through the same HTTP API the page uses.

    python benchmarks/bench_users.py [--users 20] [--steps 8] [--client http|gradio] [--json FILE] [--poll-only]
                                     [--classroom] [--cpu-runs K] [--run-threads T]

``--classroom`` measures a workshop instead (join codes, the Quick demo locked by a policy file, upload, train,
watch, chat, against one person alone): see ``classroom.py``. ``--cpu-runs K`` lets K runs train at once on a CPU
machine (the studio's ``STUDIO_CPU_RUNS``), ``--run-threads T`` gives each run T PyTorch threads (``OMP_NUM_THREADS``).

First, in this process, the server's time per poll with N pages on one run, the old way (every page re-reads the
events and builds its own chart) against the handler now; then, unless ``--poll-only``:

Starts the studio in its own process on 127.0.0.1 with a users file (sign-in on), then:

1. **Alone**: one person trains a short run on the embedded model with nobody watching (the baseline tokens/s).
2. **Everyone**: N people sign in (Gradio's client API, each with their own session), each uploads a small file,
   starts a short run and watches it once a second (the page's poll, sent as plain HTTP calls on the person's
   session as a browser sends it; ``--client gradio`` polls through the client library) until it ends, then
   chats with it once.
   Runs queue and train one at a time, so at any moment one run trains while everyone polls.
3. **Leaks**: every person tries every other person's run ids (show, stop, export, chat) and lists their own runs.

Prints (and with ``--json`` writes) poll latency p50/p95/max, training tokens/s alone and while watched, every run's
wait and finish time, errors and leaks. Goal on a 2-core CPU with 20 watchers: p95 poll <= 500 ms, training slowed
by <= 15%, no errors, no leaks. The studio process is stopped by its process id at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.modules.setdefault("bench_users", sys.modules[__name__])  # classroom.py imports its pieces from this module


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def training_speed(runs_dir: Path, run_id: str) -> float | None:
    """Mean tokens/s over the run's logged steps after the first (which includes loading)."""
    path = runs_dir / run_id / "events.jsonl"
    if not path.exists():
        return None
    logs = [e for e in map(json.loads, path.read_text().splitlines()) if e.get("type") == "log"]
    speeds = [e["tokens_per_second"] for e in logs[1:] if e.get("tokens_per_second")]
    return statistics.mean(speeds) if speeds else None


class Person:
    def __init__(self, name: str, url: str, values: list, data_file: Path, runs_dir: Path, steps: int,
                 secret: str | None = None):
        """Signs in through the studio's sign-in route with ``secret`` (a password, or a join code)."""
        from gradio_client import Client

        self.name, self.values, self.data_file, self.runs_dir = name, values, data_file, runs_dir
        self.client = Client(url, auth=(name, secret or f"{name}-pass-word"), verbose=False)
        self.polls: list[float] = []
        self.errors: list[str] = []
        self.run_id = ""
        self.began = self.submitted = self.started = self.finished = None  # began: the upload was sent
        self.state = ""
        self.chat_seconds = None
        self.chat_window: tuple[float, float] | None = None  # when this person's chat kept the studio busy
        self.steps = steps

    def call(self, *args, api_name: str):
        t = time.perf_counter()
        try:
            return self.client.predict(*args, api_name=api_name), time.perf_counter() - t
        except Exception as err:  # noqa: BLE001 - counted, the person goes on
            self.errors.append(f"{api_name}: {type(err).__name__}: {str(err)[:160]}")
            return None, time.perf_counter() - t

    def start(self) -> None:
        from gradio_client import handle_file

        self.began = time.time()
        out, _ = self.call(handle_file(str(self.data_file)), api_name="/load_upload")
        if out is None or "records" not in str(out[0]):
            self.errors.append(f"upload: {str(out and out[0])[:160]}")
            return
        self.submitted = time.time()
        out, _ = self.call(f"{self.name}-run", *self.values, api_name="/start_training")
        if out is None or "Started" not in str(out[0]):
            self.errors.append(f"start: {str(out and out[0])[:160]}")
            return
        out, _ = self.call(None, api_name="/list_runs")
        ids = [row[0] for row in (out[0] if out else {}).get("data", [])]
        self.run_id = ids[0] if ids else ""

    def http_poll(self):
        """The page's poll as a browser sends it: the poll skips Gradio's queue, so one POST with this person's
        session and sign-in cookie and one JSON answer (far lighter on this machine than the client library's
        protocol, so that the load generator does not take the CPU the studio needs)."""
        import urllib.request

        headers = {"Content-Type": "application/json",
                   "Cookie": "; ".join(f"{k}={v}" for k, v in self.client.cookies.items())}
        url = self.client.src.rstrip("/") + "/gradio_api/run/poll_run"
        t = time.perf_counter()
        try:
            body = json.dumps({"data": [None, None], "session_hash": self.client.session_hash}).encode()
            with urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers), timeout=60) as r:
                answer = json.loads(r.read())
        except Exception as err:  # noqa: BLE001 - counted, the person goes on
            self.errors.append(f"/poll_run (http): {type(err).__name__}: {str(err)[:160]}")
            return None, time.perf_counter() - t
        seconds = time.perf_counter() - t
        if "data" not in answer:
            self.errors.append(f"/poll_run (http): {str(answer)[:160]}")
            return None, seconds
        return answer["data"], seconds

    def watch(self, stop_at: float, light: bool = False, chat: bool = True) -> None:
        """Poll once a second, as the page does, until the run ends; then chat once (unless not ``chat``)."""
        while time.time() < stop_at:
            t0 = time.time()
            out, seconds = self.http_poll() if light else self.call(api_name="/poll_run")
            self.polls.append(seconds)
            progress = str(out[1]) if out else ""
            if self.started is None and "running" in progress and "step" in progress:
                self.started = time.time()
            if any(s in progress for s in ("finished", "failed", "stopped", "interrupted")):
                self.finished = time.time()
                self.state = next(s for s in ("finished", "failed", "stopped", "interrupted") if s in progress)
                break
            time.sleep(max(0.0, 1.0 - (time.time() - t0)))
        if self.state == "finished" and chat:
            self.chat_window = (time.time(), float("inf"))
            self.call(None, api_name="/chat_runs")
            out, seconds = self.call("Say hello.", [], [], self.run_id, "", 0.0, 0.9, 16, 1.0, api_name="/chat")
            self.chat_seconds = seconds
            self.chat_window = (self.chat_window[0], time.time())
            if out is None or not (out[2] and out[2][-1].get("content")):
                self.errors.append(f"chat: no tuned reply ({str(out)[:120]})")


def data_for(work: Path, name: str) -> Path:
    """A small prompt/completion file of this person's own: 30 of 40 rows, picked by their name."""
    rows = [{"prompt": f"Question {i}: what is {i} plus {i}?", "completion": f"Arr, {2 * i}, matey!"} for i in range(40)]
    path = work / f"{name}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in random.Random(name).sample(rows, 30)))
    return path


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds a process has used so far (its own threads; not its children)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def try_leaks(people: list[Person]) -> tuple[int, int]:
    """(attempts, leaks): every person asks for every other person's runs."""
    attempts = leaks = 0
    for me in people:
        out, _ = me.call(None, api_name="/list_runs")
        mine = {row[0] for row in (out[0] if out else {}).get("data", [])}
        for other in people:
            if other is me or not other.run_id:
                continue
            attempts += 1
            if other.run_id in mine:
                leaks += 1
            for api in ("/show_run", "/stop_listed_run", "/export"):
                attempts += 1
                args = (other.run_id, False) if api == "/export" else (other.run_id,)
                try:
                    out = me.client.predict(*args, api_name=api)
                except Exception:  # noqa: BLE001 - refused before the handler: fine
                    continue
                text = json.dumps(out, default=str)
                if "no run named" not in text and ("step" in text or "Stopping" in text or "Exported" in text):
                    leaks += 1
    return attempts, leaks


def poll_cost(watchers: int = 20, steps: int = 60) -> dict:
    """Server time per poll, in this process: ``watchers`` pages on one run that logs a step between polls. The old
    way (read every event, build a plotly figure per page) against the page's handler now (incremental read,
    one chart per new step shared by all pages), measured in the same run."""
    from types import SimpleNamespace

    from studio.core.runfolder import RunFolder
    from studio.ui.app import build_app
    from studio.ui.charts import training_figure

    root = Path(tempfile.mkdtemp(prefix="studio-poll-"))
    demo = build_app(root / "runs")
    store = demo.studio.store
    folder = RunFolder(store.root / "watched")
    folder.path.mkdir(parents=True)
    from studio.core.config import StudioConfig

    StudioConfig().save(folder.config_file)
    folder.write_status(state="running", step=0, max_steps=steps, pid=os.getpid(), started=time.time())
    folder.emit({"type": "start", "max_steps": steps, "model": "m", "method": "lora", "device": "cpu", "time": 0})
    poll = next(f.fn for f in demo.fns.values() if f.api_name == "poll_run")
    old, new = [], []
    seen = [""] * watchers
    for step in range(1, steps + 1):
        folder.emit({"type": "log", "step": step, "max_steps": steps, "loss": 3.0 / step, "learning_rate": 1e-4,
                     "elapsed": step, "tokens_per_second": 200.0})
        if step % 10 == 0:
            folder.emit({"type": "eval", "step": step, "eval_loss": 2.0 / step})
        for w in range(watchers):
            t = time.perf_counter()
            training_figure(folder.read_events()).to_json()  # what each page cost before
            old.append(time.perf_counter() - t)
            t = time.perf_counter()
            out = poll("watched", seen[w], request=SimpleNamespace(username=None))
            new.append(time.perf_counter() - t)
            seen[w] = out[4]
    demo.close()
    return {"poll_ms_old_p50": round(1000 * pct(old, 0.5), 2), "poll_ms_new_p50": round(1000 * pct(new, 0.5), 2),
            "poll_ms_new_p95": round(1000 * pct(new, 0.95), 2), "poll_speedup": round(sum(old) / sum(new), 1)}


def studio_env(args, **env) -> dict:
    """The studio's environment: ``env`` plus the options that set how many runs train at once and their threads."""
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false", **env)
    if args.cpu_runs:
        env["STUDIO_CPU_RUNS"] = str(args.cpu_runs)  # the scheduler's setting for runs at once on a CPU machine
    if args.run_threads:
        env["OMP_NUM_THREADS"] = str(args.run_threads)  # PyTorch's threads in each run (inherited by runs)
    return env


def start_studio(work: Path, runs_dir: Path, env: dict):
    """The studio in its own process (its own process group) on 127.0.0.1; returns (process, url, log) once it answers."""
    import urllib.request

    port = free_port()
    log = open(work / "studio.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "studio", "ui", "--port", str(port), "--runs-dir", str(runs_dir)],
                              cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 180
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return server, url, log
        except Exception:  # noqa: BLE001 - not up yet
            if time.time() > deadline or server.poll() is not None:
                stop_studio(server, log)
                raise SystemExit(f"the studio did not start; see {work / 'studio.log'}")
            time.sleep(0.5)


def stop_studio(server: subprocess.Popen, log) -> None:
    """Stop the studio and its runs by its process group id."""
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    log.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--steps", type=int, default=None,
                    help="optimizer steps per run (default 8; with --classroom, the Quick demo preset's)")
    ap.add_argument("--classroom", action="store_true",
                    help="a workshop: people sign in with join codes under a policy that locks the Quick demo preset, "
                         "each uploads, trains, watches and chats; against one person alone (see classroom.py)")
    ap.add_argument("--cpu-runs", type=int, default=0, metavar="K",
                    help="runs that train at once on a CPU machine (the studio's STUDIO_CPU_RUNS; default 1)")
    ap.add_argument("--run-threads", type=int, default=0, metavar="T",
                    help="PyTorch threads per run (OMP_NUM_THREADS for the studio and its runs; default: all cores)")
    ap.add_argument("--json", default=None, metavar="FILE", help="also write the figures as JSON")
    ap.add_argument("--timeout", type=float, default=1800, help="give up after this many seconds (default 1800)")
    ap.add_argument("--poll-only", action="store_true", help="only the in-process cost of a poll (seconds, no training)")
    ap.add_argument("--no-chat", action="store_true",
                    help="people only watch (no chat after their run): the training slowdown is the watching alone")
    ap.add_argument("--client", choices=("http", "gradio"), default="http",
                    help="how watchers poll: plain HTTP calls as a browser makes them (default), or Gradio's client "
                         "library, which costs this machine far more CPU per poll than the studio does")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a timeout still stops the studio
    if args.classroom:
        import classroom

        return classroom.run(args)
    args.steps = args.steps or 8
    cost = poll_cost(args.users)
    print(f"server time per poll with {args.users} pages on one run: {cost['poll_ms_old_p50']} ms rebuilding the chart "
          f"per page, {cost['poll_ms_new_p50']} ms (p95 {cost['poll_ms_new_p95']} ms) now: {cost['poll_speedup']}x less")
    if args.poll_only:
        if args.json:
            Path(args.json).write_text(json.dumps(cost, indent=1))
        return
    from studio.ui.train_tab import KEYS, initial_values
    from studio.server.users import UserBook

    work = Path(tempfile.mkdtemp(prefix="studio-users-"))
    runs_dir = work / "runs"
    book = UserBook(work / "users.json")
    names = ["solo"] + [f"user{i:02d}" for i in range(1, args.users + 1)]
    for name in names:
        book.add(name, f"{name}-pass-word")
    values = initial_values()
    # no held-out share and no checkpoint before the end: every logged step is training alone, so that the speed
    # with and without watchers compares steps of the same kind
    values.update({"train.max_steps": args.steps, "train.batch_size": 4, "data.max_length": 64, "train.eval_steps": 0,
                   "data.eval_fraction": 0.0, "train.save_steps": args.steps + 1})
    ordered = [values[k] for k in KEYS]

    server, url, log = start_studio(work, runs_dir, studio_env(args, STUDIO_USERS=str(work / "users.json")))
    figures: dict = {"users": args.users, "steps": args.steps, "client": args.client, "chat": not args.no_chat, **cost}
    try:
        # 1. alone
        solo = Person("solo", url, ordered, data_for(work, "solo"), runs_dir, args.steps)
        solo.start()
        solo.watch(time.time() + args.timeout, light=args.client == "http")
        alone = [training_speed(runs_dir, solo.run_id)]
        figures["alone_poll_ms_p50"] = 1000 * pct(solo.polls, 0.5)

        # 2. everyone
        t0 = time.time()
        people = [Person(n, url, ordered, data_for(work, n), runs_dir, args.steps) for n in names[1:]]
        figures["sign_in_seconds"] = round(time.time() - t0, 2)
        for p in people:
            p.start()
        cpu0, wall0 = _cpu_seconds(os.getpid()), time.time()
        server_cpu0 = _cpu_seconds(server.pid)
        threads = [threading.Thread(target=p.watch, args=(time.time() + args.timeout, args.client == "http", not args.no_chat),
                                    daemon=True) for p in people]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = max(time.time() - wall0, 1e-6)
        figures["load_generator_cpu_share"] = round((_cpu_seconds(os.getpid()) - cpu0) / wall, 3)
        figures["studio_process_cpu_share"] = round((_cpu_seconds(server.pid) - server_cpu0) / wall, 3)
        polls = [s for p in people for s in p.polls]
        watched = [x for x in (training_speed(runs_dir, p.run_id) for p in people) if x]
        figures.update(
            poll_ms_p50=round(1000 * pct(polls, 0.5), 1), poll_ms_p95=round(1000 * pct(polls, 0.95), 1),
            poll_ms_max=round(1000 * max(polls), 1) if polls else None, polls=len(polls),
            watched_tokens_per_second=round(statistics.mean(watched), 1) if watched else None,
            runs=[{"user": p.name, "run": p.run_id, "state": p.state,
                   "wait_s": round(p.started - p.submitted, 1) if p.started and p.submitted else None,
                   "finish_s": round(p.finished - p.submitted, 1) if p.finished and p.submitted else None,
                   "chat_s": round(p.chat_seconds, 2) if p.chat_seconds else None,
                   "chat_window": [round(x - t0, 1) for x in p.chat_window] if p.chat_window else None}
                  for p in people],
        )

        # the baseline again, now that everyone is done: the machine's speed drifts, so alone is the mean of both
        again = Person("solo", url, ordered, data_for(work, "solo"), runs_dir, args.steps)
        again.start()
        again.watch(time.time() + args.timeout, light=args.client == "http", chat=False)
        alone.append(training_speed(runs_dir, again.run_id))
        alone = [x for x in alone if x]
        figures["alone_runs_tokens_per_second"] = [round(x, 1) for x in alone]
        figures["alone_tokens_per_second"] = statistics.mean(alone) if alone else None
        if figures.get("alone_tokens_per_second") and watched:
            figures["slowdown"] = round(1 - statistics.mean(watched) / figures["alone_tokens_per_second"], 3)

        # 3. leaks
        figures["leak_attempts"], figures["leaks"] = try_leaks(people)
        figures["errors"] = [e for p in [solo] + people for e in (f"{p.name}: {x}" for x in p.errors)]
    finally:
        stop_studio(server, log)

    print(f"users {args.users}, {args.steps} steps each; sign-in of all took {figures.get('sign_in_seconds')} s")
    print(f"poll latency: p50 {figures.get('poll_ms_p50')} ms, p95 {figures.get('poll_ms_p95')} ms, "
          f"max {figures.get('poll_ms_max')} ms over {figures.get('polls')} polls (alone: p50 {figures.get('alone_poll_ms_p50', 0):.0f} ms)")
    print(f"CPU while everyone watched (cores' worth): load generator {figures.get('load_generator_cpu_share')}, "
          f"studio web process {figures.get('studio_process_cpu_share')} (training runs in processes of their own)")
    alone, watched = figures.get("alone_tokens_per_second"), figures.get("watched_tokens_per_second")
    print(f"training: {alone and round(alone, 1)} tokens/s alone (runs before and after: "
          f"{figures.get('alone_runs_tokens_per_second')}), {watched} tokens/s watched by {args.users} "
          f"(slowed by {100 * figures.get('slowdown', float('nan')):.1f}%"
          + (")" if figures.get("chat") else ": the watching alone, no chats)"))
    for r in figures.get("runs", []):
        print(f"  {r['user']}: {r['state'] or 'unfinished'}; started after {r['wait_s']} s, ended after {r['finish_s']} s, "
              f"chat {r['chat_s']} s")
    print(f"errors: {len(figures.get('errors', []))}; leaks: {figures.get('leaks')} in {figures.get('leak_attempts')} tries")
    for e in figures.get("errors", [])[:10]:
        print("  " + e)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
