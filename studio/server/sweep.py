"""Sweeps: several runs of one config with some settings varied, the best one named.

Each trial is an ordinary run, queued through the run store (``studio.server.runs``) like any other, so that the
device scheduler serves other people's runs in turn; a sweep has at most one trial queued or training at a time.
Optuna picks the next trial's settings (every point of a ``--grid``, or TPE over ``--search`` ranges) and prunes
a trial whose evaluation figure falls behind the others' at the same step (median rule): the run is stopped and
the trial marked pruned. The sweep folder holds Optuna's study (``study.db``, SQLite), the sweep's own settings
(``sweep.json``) and ``summary.json``, which names the best trial and its settings. Run the same command again and
a sweep that was stopped or cut off resumes where it was: finished trials stay, an interrupted trial's run resumes
from its last checkpoint.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from studio.core.config import StudioConfig
from studio.core.errors import StudioError
from studio.server.compare import higher_is_better

STUDY_FILE, SPEC_FILE, SUMMARY_FILE = "study.db", "sweep.json", "summary.json"
DEFAULT_SEARCH_TRIALS = 8


@dataclass
class Space:
    """What varies: ``grid`` key -> values; ``search`` key -> [low, high, log]."""
    grid: dict = field(default_factory=dict)
    search: dict = field(default_factory=dict)

    def keys(self) -> list[str]:
        return list(self.grid) + list(self.search)


def _value(text: str):
    """A value as typed: numbers (1e-5 too, which YAML reads as text), true/false, else the text."""
    value = yaml.safe_load(text.strip())
    if isinstance(value, str):
        for kind in (int, float):
            try:
                return kind(value)
            except ValueError:
                pass
    return value


def parse_grid(items: list[str]) -> dict:
    out = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        values = [_value(v) for v in raw.split(",") if v.strip()]
        if not sep or not key.strip() or not values:
            raise StudioError(f"--grid {item!r}: expected key=value1,value2, e.g. train.learning_rate=1e-4,1e-3")
        out[key.strip()] = values
    return out


def parse_search(items: list[str]) -> dict:
    out = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        log = raw.endswith(":log")
        raw = raw[: -len(":log")] if log else raw
        low, dots, high = raw.partition("..")
        try:
            lo, hi = _value(low), _value(high)
            ok = sep and dots and key.strip() and isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and lo < hi
        except yaml.YAMLError:
            ok = False
        if not ok:
            raise StudioError(f"--search {item!r}: expected key=low..high or key=low..high:log with low < high, "
                              "e.g. train.learning_rate=1e-5..1e-2:log")
        if log and lo <= 0:
            raise StudioError(f"--search {item!r}: a log range needs low above 0")
        out[key.strip()] = [lo, hi, log]
    return out


def check_space(config: StudioConfig, space: Space) -> None:
    """Refuse a sweep over nothing, over a key given twice, or over a key the config does not have."""
    if not space.keys():
        raise StudioError("a sweep needs something to vary: --grid key=v1,v2 or --search key=low..high")
    both = set(space.grid) & set(space.search)
    if both:
        raise StudioError(f"{', '.join(sorted(both))}: given both as --grid and --search; keep one")
    for key in space.keys():  # an unknown key is said now, naming the known ones
        try:
            config.with_overrides([f"{key}={(space.grid.get(key) or space.search.get(key))[0]}"])
        except StudioError as err:
            raise StudioError(str(err).replace("--set:", "--grid/--search:", 1)) from None


class Sweep:
    """One sweep in ``folder``. ``runs``: where trials are queued (a ``RunStore``, or a person's ``UserRuns`` on a
    shared studio). ``report``: called with a line of progress."""

    def __init__(self, config: StudioConfig, space: Space, folder: str | Path, runs, trials: int | None = None,
                 minutes: float | None = None, metric: str = "eval_loss", overrides: list[str] | None = None,
                 report=None, poll: float = 0.5, prune: bool = True):
        check_space(config, space)
        self.config, self.space, self.runs = config, space, runs
        self.folder = Path(folder).resolve()
        self.metric = metric
        self.overrides = list(overrides or [])
        self.minutes = minutes
        self.report = report or (lambda line: None)
        self.poll = poll
        self.prune = prune
        n_grid = math.prod(len(v) for v in space.grid.values()) if space.grid else 1
        wanted = trials or (n_grid if not space.search else DEFAULT_SEARCH_TRIALS)
        cap = int(getattr(runs.policy, "trials_per_sweep", 0) or 0)
        self.notes: list[str] = []
        if cap and wanted > cap:
            self.notes.append(f"{wanted} trials asked, {cap} allowed per sweep ({runs.policy.who()})")
            wanted = cap
        self.n_trials = wanted if space.search else min(wanted, n_grid)
        self.higher = bool(higher_is_better(metric, {}))

    # ---- the study -------------------------------------------------------------------------------
    def _spec(self) -> dict:
        return {"space": asdict(self.space), "metric": self.metric, "overrides": self.overrides,
                "base": self.config.to_dict()}

    def _study(self):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.folder.mkdir(parents=True, exist_ok=True)
        spec_file = self.folder / SPEC_FILE
        spec = self._spec()
        if spec_file.exists():
            saved = json.loads(spec_file.read_text(encoding="utf-8"))
            if saved.get("space") != spec["space"] or saved.get("metric") != spec["metric"]:
                raise StudioError(f"{self.folder} holds a sweep over other settings ({_describe(saved.get('space', {}))}); "
                                  "run that sweep's command to resume it, or choose a new output_dir")
        else:
            spec_file.write_text(json.dumps(spec, indent=1), encoding="utf-8")
        sampler = optuna.samplers.TPESampler(seed=0, n_startup_trials=max(2, self.n_trials // 3))
        pruner = optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0, n_min_trials=1) if self.prune \
            else optuna.pruners.NopPruner()
        study = optuna.create_study(study_name="sweep", storage=f"sqlite:///{self.folder / STUDY_FILE}",
                                    load_if_exists=True, sampler=sampler, pruner=pruner,
                                    direction="maximize" if self.higher else "minimize")
        if self.space.grid and not self.space.search and not study.get_trials(deepcopy=False):
            import itertools

            keys = list(self.space.grid)  # every grid point, in order, as trials waiting their turn
            for values in itertools.islice(itertools.product(*self.space.grid.values()), self.n_trials):
                study.enqueue_trial(dict(zip(keys, values)))
        return study

    def _suggest(self, trial) -> dict:
        params = {}
        for key, values in self.space.grid.items():
            params[key] = trial.suggest_categorical(key, values)
        for key, (lo, hi, log) in self.space.search.items():
            if isinstance(lo, int) and isinstance(hi, int) and not log:
                params[key] = trial.suggest_int(key, lo, hi)
            else:
                params[key] = trial.suggest_float(key, float(lo), float(hi), log=bool(log))
        return params

    # ---- running ------------------------------------------------------------------------------------
    def run(self) -> dict:
        import optuna
        from optuna.trial import TrialState

        study = self._study()
        self.deadline = time.time() + self.minutes * 60 if self.minutes else None
        for note in self.notes:
            self.report(f"note: {note}")
        cut_off = False
        for frozen in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):  # left by a sweep cut off
            self.report(f"trial {frozen.number}: resuming its run {frozen.user_attrs.get('run', '?')}")
            trial = optuna.trial.Trial(study, frozen._trial_id)
            if not self._follow(study, trial, frozen.params, resume=frozen.user_attrs.get("run") or "",
                                reported=set(frozen.intermediate_values)):
                cut_off = True
                break
        while not cut_off:
            done = [t for t in study.get_trials(deepcopy=False) if t.state != TrialState.WAITING]
            if len(done) >= self.n_trials or self._out_of_time():
                cut_off = self._out_of_time() and len(done) < self.n_trials
                break
            trial = study.ask()
            params = self._suggest(trial)
            if not self._follow(study, trial, params):
                cut_off = True
            self.write_summary(study, complete=False)  # progress for whoever watches
        return self.write_summary(study, complete=not cut_off)

    def _out_of_time(self) -> bool:
        return self.deadline is not None and time.time() >= self.deadline

    def _start(self, trial, params: dict) -> str:
        sets = self.overrides + [f"{k}={_yaml(v)}" for k, v in params.items()]
        cfg = self.config.with_overrides(sets)
        run_id = self.runs.submit(cfg, name=f"trial-{trial.number:03d}")
        trial.set_user_attr("run", run_id)
        self.report(f"trial {trial.number}: {_describe_params(params)} -> run {run_id}")
        return run_id

    def _follow(self, study, trial, params: dict, resume: str | None = None, reported: set | None = None) -> bool:
        """Train one trial to its end and tell the study how it went. False: the time budget ran out first (the
        trial stays open, its run stopped with a checkpoint, so that the next call resumes it)."""
        from optuna.trial import TrialState

        run_id = self._reopen(resume, trial, params) if resume is not None else self._start(trial, params)
        reported = set(reported or ())
        pruned = False
        while True:
            info = self.runs.info(run_id)
            for ev in self.runs.events(run_id, ("eval",)):
                value = ev.get(self.metric)
                if isinstance(value, (int, float)) and ev["step"] not in reported:
                    reported.add(ev["step"])
                    trial.report(float(value), ev["step"])
                    if not pruned and info.state == "running" and trial.should_prune():
                        pruned = True
                        self.report(f"trial {trial.number}: {self.metric} {value:.4g} at step {ev['step']} is behind "
                                    "the others; pruned")
                        self.runs.stop(run_id)
            if info.state not in ("queued", "running"):
                break
            if self._out_of_time() and not pruned:
                self.report(f"trial {trial.number}: the sweep's time is up; stopping its run (it resumes next time)")
                self.runs.stop(run_id)
                self._wait(run_id)
                return False
            time.sleep(self.poll)
        value = self._final(run_id)
        if pruned and info.state == "finished":  # it ended before the stop reached it: a complete trial after all
            pruned = False
        if pruned:
            study.tell(trial, state=TrialState.PRUNED)
        elif info.state == "finished" and value is not None:
            study.tell(trial, value)
            self.report(f"trial {trial.number}: {self.metric} {value:.4g}")
        elif info.state in ("stopped", "interrupted"):  # stopped by someone else, or cut off: resumes next time
            return False
        else:
            study.tell(trial, state=TrialState.FAIL)
            self.report(f"trial {trial.number}: {info.state} ({info.message})")
        return True

    def _reopen(self, run_id: str | None, trial, params: dict) -> str:
        """An open trial's run after a restart: followed if it still trains, resumed from its checkpoint if it was
        cut off, started again if it never got far enough to keep one."""
        try:
            info = self.runs.info(run_id) if run_id else None
        except StudioError:
            info = None
        if info is None:
            return self._start(trial, params)
        if info.state in ("queued", "running", "finished"):
            return run_id
        from studio.core.runfolder import RunFolder

        if RunFolder(info.path).last_checkpoint() is not None:
            return self.runs.resume(run_id)
        self.runs.delete(run_id)
        return self._start(trial, params)

    def _wait(self, run_id: str, timeout: float = 600) -> None:
        end = time.time() + timeout
        while self.runs.info(run_id).state in ("queued", "running") and time.time() < end:
            time.sleep(self.poll)

    def _final(self, run_id: str) -> float | None:
        evals = [e for e in self.runs.events(run_id, ("eval",)) if isinstance(e.get(self.metric), (int, float))]
        return float(evals[-1][self.metric]) if evals else None

    # ---- the summary --------------------------------------------------------------------------------
    def write_summary(self, study, complete: bool) -> dict:
        from optuna.trial import TrialState

        trials = []
        for t in study.get_trials(deepcopy=False):
            last = t.value if t.value is not None else (t.intermediate_values[max(t.intermediate_values)]
                                                         if t.intermediate_values else None)
            trials.append({"number": t.number, "run": t.user_attrs.get("run"), "state": t.state.name.lower(),
                           "value": last, "steps_reported": sorted(t.intermediate_values), "settings": t.params})
        finished = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
        best = None
        if finished:
            b = study.best_trial
            try:
                path = self.runs.info(b.user_attrs["run"]).path
            except (KeyError, StudioError):
                path = None
            best = {"number": b.number, "run": b.user_attrs.get("run"), "value": b.value, "settings": b.params,
                    "path": path}
        summary = {"folder": str(self.folder), "metric": self.metric, "better": "higher" if self.higher else "lower",
                   "trials_planned": self.n_trials, "complete": complete, "best": best, "trials": trials,
                   "notes": self.notes,
                   "resume": "run the same command again" if not complete else None}
        (self.folder / SUMMARY_FILE).write_text(json.dumps(summary, indent=1), encoding="utf-8")
        return summary


def _yaml(v) -> str:
    return yaml.safe_dump(v, default_flow_style=True).strip().removesuffix("...").strip()


def _describe_params(params: dict) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def _describe(space: dict) -> str:
    return ", ".join(list(space.get("grid", {})) + list(space.get("search", {}))) or "nothing"
