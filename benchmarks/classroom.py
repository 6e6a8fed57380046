"""A classroom on one shared studio: ``python benchmarks/bench_users.py --classroom [--users 20] [--steps S]``.

The workshop as an instructor runs it: a users file with join codes only (made by the users file's own code maker,
as ``python -m studio users codes`` makes them), and a policy file whose ``locked`` section fixes the Quick demo
preset (its model, method and every knob, read from ``studio/ui/presets.py``; ``--steps`` replaces its steps).

1. **Alone**: one student signs in with a code, uploads a file, trains the Quick demo, watches it as the page does
   and chats with the tuned model once, with nobody else on the studio: the time one person needs.
2. **The class**: N students, each with a name of their own and a join code, sign in through the sign-in route,
   then all at once each upload their own small file, train, watch and chat once.
3. **Leaks**: every student tries every other student's run ids; a used code is tried again under another name.

Prints (and with ``--json`` writes) the time until the last student has chatted, each student's wait in the queue
(submit to its process starting) and total time (upload to the chat's answer), poll latency p50/p95/max, errors, leaks,
the time alone and the class's time over N times that. ``--cpu-runs K`` (the studio's STUDIO_CPU_RUNS) lets K runs
train at once on a CPU machine; ``--run-threads T`` gives each run T PyTorch threads.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from bench_users import Person, data_for, pct, start_studio, stop_studio, studio_env, try_leaks

NAMES = ("ada", "ben", "chioma", "dmitri", "elif", "farah", "goran", "hana", "ivo", "jun", "kofi", "lena", "mateo",
         "nadia", "omar", "priya", "quinn", "rosa", "sven", "tariq")


def student_names(n: int) -> list[str]:
    """The names the students pick (each their own)."""
    return [NAMES[i % len(NAMES)] + (str(i // len(NAMES) + 1) if i >= len(NAMES) else "") for i in range(n)]


def locked_preset(steps: int | None = None) -> dict:
    """The policy's ``locked`` section: the Quick demo preset's model, method and knobs; ``steps`` replaces its steps."""
    from studio.ui.presets import PRESETS, QUICK, preset_values

    locked = {"model.source": PRESETS[QUICK]["model"], **preset_values(QUICK)}
    if steps:
        locked["train.max_steps"] = steps
    return locked


def write_policy(path: Path, steps: int | None = None) -> dict:
    """The instructor's policy file (YAML) with the Quick demo locked; returns the locked settings."""
    import yaml

    locked = locked_preset(steps)
    path.write_text(yaml.safe_dump({"locked": locked}, sort_keys=False))
    return locked


def join_codes(users_file: Path, names: list[str], hours: float = 4) -> dict[str, str]:
    """One join code per name, made by the users file's code maker (the codes are tied to a name at first sign-in)."""
    from studio.server.users import UserBook

    return dict(zip(names, UserBook(users_file).make_codes(len(names), hours)))


def sign_in_accepted(url: str, name: str, secret: str) -> bool:
    """Whether the studio's sign-in route accepts ``name`` with ``secret``."""
    body = urllib.parse.urlencode({"username": name, "password": secret}).encode()
    try:
        with urllib.request.urlopen(urllib.request.Request(url + "login", data=body), timeout=30) as r:
            return 200 <= r.status < 300
    except urllib.error.HTTPError:
        return False


def launched_at(runs_dir: Path, run_id: str) -> float | None:
    """When the scheduler took the run out of the queue and started its process (its launch record is written then)."""
    path = runs_dir / run_id / "launch.json"
    return path.stat().st_mtime if run_id and path.exists() else None


def lock_held(runs_dir: Path, run_id: str, locked: dict) -> bool:
    """Whether the run trained with every locked setting (read from the config it was started with)."""
    import yaml

    config = yaml.safe_load((runs_dir / run_id / "config.yaml").read_text())
    for key, value in locked.items():
        node = config
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node != value:
            return False
    return True


def lifetime(p: Person, t0: float) -> dict:
    """One student's times in seconds: in the queue (submit to its process starting), until the page shows it
    training (submit to the model loaded), training, chat, total (upload to the chat's answer)."""
    chat_end = p.chat_window[1] if p.chat_window and p.chat_seconds else None
    launched = launched_at(p.runs_dir, p.run_id)
    return {"user": p.name, "run": p.run_id, "state": p.state,
            "queue_s": round(launched - p.submitted, 1) if launched and p.submitted else None,
            "shown_s": round(p.started - p.submitted, 1) if p.started and p.submitted else None,
            "train_s": round(p.finished - p.started, 1) if p.finished and p.started else None,
            "chat_s": round(p.chat_seconds, 2) if p.chat_seconds else None,
            "total_s": round(chat_end - p.began, 1) if chat_end and p.began else None,
            "chatted_at_s": round(chat_end - t0, 1) if chat_end else None}


def run(args) -> dict:
    from studio.ui.train_tab import KEYS, initial_values

    work = Path(tempfile.mkdtemp(prefix="studio-classroom-"))
    runs_dir = work / "runs"
    locked = write_policy(work / "policy.yaml", args.steps)
    names = student_names(args.users)
    codes = join_codes(work / "users.json", ["alone"] + names)
    values = initial_values()
    values.update({k: v for k, v in locked.items() if k in values})  # what the page shows: the locked knobs
    ordered = [values[k] for k in KEYS]
    # one student sends other values through the API (the page shows locked knobs fixed): the server must lock them
    tampered = [{"train.learning_rate": 0.05, "lora.r": 4}.get(k, values[k]) for k in KEYS]
    steps = locked["train.max_steps"]
    light = args.client == "http"
    figures: dict = {"mode": "classroom", "users": args.users, "steps": steps, "cpu_runs": args.cpu_runs or 1,
                     "run_threads": args.run_threads or None, "client": args.client, "locked": locked}
    env = studio_env(args, STUDIO_USERS=str(work / "users.json"), STUDIO_POLICY=str(work / "policy.yaml"))
    server, url, log = start_studio(work, runs_dir, env)
    try:
        # 1. one student alone
        alone = Person("alone", url, ordered, data_for(work, "alone"), runs_dir, steps, secret=codes["alone"])
        alone.start()
        if alone.run_id:
            alone.watch(time.time() + args.timeout, light=light)
        figures["alone"] = lifetime(alone, alone.began or time.time())

        # 2. the class: everyone signs in, then all start at once
        t = time.time()
        people = [Person(n, url, tampered if i == 0 else ordered, data_for(work, n), runs_dir, steps, secret=codes[n])
                  for i, n in enumerate(names)]
        figures["sign_in_seconds"] = round(time.time() - t, 2)
        t0 = time.time()
        deadline = t0 + args.timeout

        def student(p: Person) -> None:
            p.start()
            if p.run_id:
                p.watch(deadline, light=light)

        threads = [threading.Thread(target=student, args=(p,), daemon=True) for p in people]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        figures["people"] = [lifetime(p, t0) for p in people]
        chatted = [r["chatted_at_s"] for r in figures["people"] if r["chatted_at_s"] is not None]
        figures["chatted"] = len(chatted)
        figures["class_total_s"] = max(chatted) if len(chatted) == len(people) else None
        if figures["class_total_s"] and figures["alone"]["total_s"]:
            figures["ratio_to_alone"] = round(figures["class_total_s"] / (args.users * figures["alone"]["total_s"]), 3)
        waits = [r["queue_s"] for r in figures["people"] if r["queue_s"] is not None]
        totals = [r["total_s"] for r in figures["people"] if r["total_s"] is not None]
        polls = [s for p in people for s in p.polls]
        figures.update(
            queue_s_p50=pct(waits, 0.5), queue_s_max=max(waits, default=None),
            total_s_p50=pct(totals, 0.5), total_s_max=max(totals, default=None),
            poll_ms_p50=round(1000 * pct(polls, 0.5), 1), poll_ms_p95=round(1000 * pct(polls, 0.95), 1),
            poll_ms_max=round(1000 * max(polls), 1) if polls else None, polls=len(polls))

        # 3. leaks: others' run ids, and a code that is already tied to a student, under another name
        figures["leak_attempts"], figures["leaks"] = try_leaks(people)
        errors = []
        if not sign_in_accepted(url, names[0], codes[names[0]]):  # its owner again: the route answers as it should
            errors.append(f"sign-in: {names[0]} could not sign in again with their own code")
        figures["leak_attempts"] += 1
        if sign_in_accepted(url, "intruder", codes[names[0]]):
            figures["leaks"] += 1
            errors.append(f"sign-in: the join code of {names[0]} let 'intruder' sign in")
        for p in [alone] + people:
            if p.run_id and not lock_held(runs_dir, p.run_id, locked):
                p.errors.append(f"run {p.run_id} did not train with the locked Quick demo settings")
        figures["errors"] = [f"{p.name}: {e}" for p in [alone] + people for e in p.errors] + errors
    finally:
        stop_studio(server, log)
    report(figures)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    return figures


def report(f: dict) -> None:
    a = f.get("alone", {})
    print(f"classroom: {f['users']} students with join codes, the Quick demo locked at {f['steps']} steps, "
          f"{f['cpu_runs']} run(s) at once; sign-in of all took {f.get('sign_in_seconds')} s")
    print(f"alone: {a.get('total_s')} s from upload to the chat's answer (queue {a.get('queue_s')} s, training shown "
          f"after {a.get('shown_s')} s, trained {a.get('train_s')} s, chat {a.get('chat_s')} s)")
    print(f"class: the last student had chatted after {f.get('class_total_s')} s ({f.get('chatted')} of {f['users']} "
          f"chatted); {f['users']} x alone = {a.get('total_s') and round(f['users'] * a['total_s'], 1)} s, "
          f"ratio {f.get('ratio_to_alone')}")
    print(f"queue wait p50 {f.get('queue_s_p50')} s, max {f.get('queue_s_max')} s; total per student p50 "
          f"{f.get('total_s_p50')} s, max {f.get('total_s_max')} s")
    print(f"poll latency: p50 {f.get('poll_ms_p50')} ms, p95 {f.get('poll_ms_p95')} ms, max {f.get('poll_ms_max')} ms "
          f"over {f.get('polls')} polls")
    for r in f.get("people", []):
        print(f"  {r['user']}: {r['state'] or 'unfinished'}; queued {r['queue_s']} s, training shown after "
              f"{r['shown_s']} s, trained {r['train_s']} s, "
              f"chat {r['chat_s']} s, total {r['total_s']} s, done at {r['chatted_at_s']} s")
    print(f"errors: {len(f.get('errors', []))}; leaks: {f.get('leaks')} in {f.get('leak_attempts')} tries")
    for e in f.get("errors", [])[:10]:
        print("  " + e)
