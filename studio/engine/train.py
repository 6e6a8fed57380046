"""Run one training job from a config into its run folder, for any task.

Reads top to bottom: check the config, open the run folder, ask the task registry for the run's task,
let the task prepare data and model (``Task.setup`` -> ``TaskSetup``), train with transformers' Trainer,
save the result, write the final status. Callable from Python with an event callback and a stop signal; the web
studio and the CLI both start it in a process of its own per run (``studio.engine``, through a launcher), which
writes the events to the run folder they watch.
"""

from __future__ import annotations

import math
import os
import threading
import time
import traceback
from pathlib import Path
from typing import Callable

from studio import tasks
from studio.core.config import StudioConfig
from studio.core.hardware import Hardware, detect_hardware, peak_memory_mb
from studio.core.procs import status_alive
from studio.core.setup import TaskSetup
from studio.core.splits import auto_interval, planned_steps
from studio.core.errors import StudioError
from studio.core.runfolder import RunFolder

EventCallback = Callable[[dict], None]


class _Watch:
    """Trainer callback: events for the run folder, and the stop signal checked after every step."""

    def __init__(self, folder: RunFolder, emit, stop, hw: Hardware, log_metrics: dict[str, str] | None = None,
                 perplexity: bool = True):
        from transformers import TrainerCallback

        watch = self

        class Callback(TrainerCallback):
            def on_train_begin(self, args, state, control, **kw):
                watch.started = watch._t = time.time()  # elapsed counts training, not model loading
                watch._tokens = state.num_input_tokens_seen  # non-zero when resuming

            def on_step_end(self, args, state, control, **kw):
                return watch.check_stop(control)

            def on_log(self, args, state, control, logs=None, **kw):
                watch.on_log(state, logs or {})
                return watch.check_stop(control)  # a request made while logging this step ends it here

            def on_evaluate(self, args, state, control, metrics=None, **kw):
                watch.on_eval(state, metrics or {})

            def on_save(self, args, state, control, **kw):
                path = Path(args.output_dir) / f"checkpoint-{state.global_step}"
                watch.emit({"type": "checkpoint", "step": state.global_step, "path": str(path)})

        self.callback = Callback()
        self.folder, self.emit, self.stop, self.hw = folder, emit, stop, hw
        self.log_metrics = dict(log_metrics or {})  # the task's own logged numbers: trainer key -> event key
        self.perplexity = perplexity  # the eval loss is a language model's cross-entropy (not a DPO or KTO loss)
        self.stopped = False
        self.last_eval_step = -1
        self._t = time.time()
        self._tokens = 0
        self.started = time.time()

    def check_stop(self, control):
        asked = (self.stop is not None and self.stop.is_set()) or self.folder.stop_requested()
        if _any_rank(asked):  # every process stops at the same step, or the others wait forever
            self.stopped = True
            control.should_training_stop = True
            control.should_save = True
        return control

    def on_log(self, state, logs: dict) -> None:
        if "loss" not in logs:
            return
        now = time.time()
        tokens = state.num_input_tokens_seen
        tps = (tokens - self._tokens) / max(now - self._t, 1e-6) if self._tokens or tokens else 0.0
        self._t, self._tokens = now, tokens
        ev = {
            "type": "log",
            "step": state.global_step,
            "max_steps": state.max_steps,
            "loss": round(float(logs["loss"]), 5),
            "learning_rate": float(logs.get("learning_rate", 0.0)),
            "epoch": round(float(logs.get("epoch") or state.epoch or 0.0), 4),
            "grad_norm": round(float(logs["grad_norm"]), 5) if logs.get("grad_norm") is not None else None,
            "tokens_per_second": round(tps, 1),
            "tokens_seen": int(tokens),
            "elapsed": round(now - self.started, 2),
            "memory_mb": peak_memory_mb(self.hw),
        }
        for key, name in self.log_metrics.items():
            if isinstance(logs.get(key), (int, float)):
                ev[name] = round(float(logs[key]), 5)
        self.emit(ev)
        self.folder.write_status(state="running", step=state.global_step, max_steps=state.max_steps)

    def on_eval(self, state, metrics: dict) -> None:
        self.last_eval_step = state.global_step
        ev = {"type": "eval", "step": state.global_step}
        for key, value in metrics.items():
            if isinstance(value, (int, float)) and key.startswith("eval_") and not key.endswith(("_runtime", "_per_second")):
                name = self.log_metrics.get(key[len("eval_"):])
                if name or "/" not in key:  # a trainer's own unmapped names ("eval_logps/chosen") stay out
                    ev[f"eval_{name}" if name else key] = round(float(value), 5)
        if "eval_loss" in ev and self.perplexity:
            ev["perplexity"] = round(math.exp(min(ev["eval_loss"], 50.0)), 4)
        self.emit(ev)


def _hint_for(err: BaseException) -> str:
    text = f"{type(err).__name__}: {err}".lower()
    if "out of memory" in text or isinstance(err, MemoryError):
        return ("out of memory: lower the batch size (raise gradient accumulation to keep the effective batch), "
                "lower max length, turn on gradient checkpointing, or use lora/qlora instead of full")
    if "nan" in text or "inf" in text:
        return "the loss became NaN or infinite: lower the learning rate, or use fp32/bf16 instead of fp16"
    return "see error.log in the run folder for details"


def prepare_run(config: StudioConfig, keep_stop: bool = False) -> tuple[RunFolder, list[str], bool]:
    """Check the config and open its run folder for training: (folder, warnings, resuming).

    Raises StudioError, with nothing written, for a config that cannot train or a folder that already holds
    another run or one that is still going. Data paths are stored absolute so that the saved config replays
    from any folder; the status says the run is loading. A stale STOP request is cleared unless ``keep_stop``
    (the launcher that prepared the folder cleared it; one there now was made since, and counts).
    """
    warnings = tasks.check(config)
    rank = int(os.environ.get("RANK", "0"))  # under torchrun every process trains; only rank 0 writes the folder
    folder = RunFolder(config.output_dir) if rank == 0 else _SilentFolder(config.output_dir)
    resuming = config.train.resume and folder.events_file.exists()
    if folder.events_file.exists() and not config.train.resume:
        raise StudioError(
            f"output_dir {config.output_dir} already holds a run; choose a new folder, or resume it with --set train.resume=true"
        )
    status = folder.read_status()
    if resuming and status.get("state") == "running" and not _is_me(status) and status_alive(status):
        raise StudioError(f"the run in {config.output_dir} is still running (process {status.get('pid')}); stop it first")
    folder.path.mkdir(parents=True, exist_ok=True)
    if not keep_stop:
        folder.clear_stop()
    config.data.train = str(Path(config.resolve_path(config.data.train)).resolve())
    if config.data.eval:
        config.data.eval = str(Path(config.resolve_path(config.data.eval)).resolve())
    if rank == 0:
        config.save(folder.config_file)
    folder.write_status(state="running", step=0, message="loading data and model", owner=config.owner,
                        started=time.time())
    return folder, warnings, resuming


def run_training(config: StudioConfig, on_event: EventCallback | None = None, stop: threading.Event | None = None,
                 keep_stop: bool = False) -> dict:
    """Train as the config says, writing everything into ``config.output_dir``. Returns the final status.

    Raises StudioError for a config or data problem found before training starts (nothing is written
    but the run folder's error event and status); other failures are recorded as ``failed``.
    """
    folder, warnings, resuming = prepare_run(config, keep_stop)

    def emit(event: dict) -> None:
        ev = folder.emit(event)
        if on_event is not None:
            try:
                on_event(ev)
            except Exception:  # noqa: BLE001 - a watcher's failure must not stop training
                pass

    for w in warnings:
        emit({"type": "warning", "message": w})
    try:
        return _train(config, folder, emit, stop, resuming)
    except BaseException as err:  # noqa: BLE001 - recorded, then re-raised
        message = str(err) if isinstance(err, StudioError) else f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        hint = "" if isinstance(err, StudioError) else _hint_for(err)
        if isinstance(err, KeyboardInterrupt):
            message, hint = "interrupted", "resume it with --set train.resume=true"
        if rank_zero():
            (folder.path / "error.log").write_text(traceback.format_exc(), encoding="utf-8")
        emit({"type": "error", "message": message, "hint": hint})
        folder.write_status(state="failed", message=message, hint=hint)
        raise


def _is_me(status: dict) -> bool:
    """The status names this process (or the torchrun agent that started it): a launcher prepared this run for us."""
    mine = (os.getpid(), os.getppid())
    return status.get("pid") in mine or (status.get("launch") or {}).get("pid") in mine


class _SilentFolder(RunFolder):
    """The run folder as a process other than rank 0 sees it: read, never written."""

    def emit(self, event: dict) -> dict:
        return {"type": event["type"], "time": round(time.time(), 3), **{k: v for k, v in event.items() if k != "type"}}

    def write_status(self, **fields) -> dict:
        return {**self.read_status(), **fields}

    def clear_stop(self) -> None:
        pass


def _train(config: StudioConfig, folder: RunFolder, emit, stop, resuming: bool) -> dict:
    from transformers import PrinterCallback, TrainingArguments

    from transformers import set_seed

    from studio.engine.sampling import make_trainer_class
    from studio.engine.trackers import Trackers

    task = tasks.get(config.task)
    set_seed(config.train.seed)  # the training worker's own seeding: a new head and LoRA start where they did before
    hw = detect_hardware(config.train.precision)
    checkpointing, checkpointing_reason = _checkpointing(config)
    config.train.gradient_checkpointing = "on" if checkpointing else "off"  # decided; the saved config keeps auto
    train_records, eval_records, data_info = task.load_splits(config)
    _refuse_untrained_format(data_info["format"], config.data.train, config.task)
    setup = task.setup(config, hw, train_records, eval_records)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    total = planned_steps(config, len(setup.train_dataset), world)
    tc = config.train
    has_eval = len(setup.eval_dataset) > 0
    trackers = Trackers(config, folder, emit)
    report_to = trackers.start()  # the ones that could start; the others are warnings in the run
    eval_every = tc.eval_steps or auto_interval(total, 5)
    save_every = tc.save_steps or auto_interval(total, 4)
    args = dict(
        output_dir=str(folder.checkpoints_dir),
        per_device_train_batch_size=tc.batch_size,
        per_device_eval_batch_size=tc.batch_size,
        gradient_accumulation_steps=tc.grad_accum,
        num_train_epochs=tc.epochs,
        max_steps=tc.max_steps,
        learning_rate=tc.learning_rate,
        lr_scheduler_type=tc.scheduler,
        warmup_steps=tc.warmup_ratio,  # a value below 1 is a share of all steps
        weight_decay=tc.weight_decay,
        max_grad_norm=tc.max_grad_norm,
        # mixed precision (autocast) on a GPU; on a CPU bf16 lives in the frozen weights, and autocast's casts
        # would cost more than its matmuls gain
        bf16=hw.precision == "bf16" and hw.device == "cuda",
        fp16=hw.precision == "fp16",
        gradient_checkpointing=checkpointing,
        use_liger_kernel=tc.liger_kernels,
        torch_compile=tc.compile,
        # length-sorted batches come from studio.engine.sampling when the task asks; else transformers' own grouping
        train_sampling_strategy="group_by_length" if tc.group_by_length and not setup.length_sorted_batches else "random",
        # a packed batch has no padding, and its pad token may be a real one (SmolLM2 pads with <|im_end|>)
        include_num_input_tokens_seen="all" if setup.attention is not None and setup.attention.packing else "non_padding",
        logging_strategy="steps",
        logging_steps=tc.logging_steps,
        eval_strategy="steps" if has_eval else "no",
        eval_steps=eval_every,
        save_strategy="steps",
        save_steps=save_every,
        save_total_limit=tc.save_total_limit,
        prediction_loss_only=setup.compute_metrics is None,
        seed=tc.seed,
        report_to=report_to or "none",
        run_name=folder.path.name,
        **trackers.training_args(),
        disable_tqdm=True,
        remove_unused_columns=False,
        dataloader_pin_memory=hw.device == "cuda",
        use_cpu=hw.device == "cpu",
        **_distributed_args(config, hw, world),
    )
    watch = _Watch(folder, emit, stop, hw, setup.log_metrics, perplexity=task.perplexity)
    common = dict(
        model=setup.model,
        train_dataset=setup.train_dataset,
        eval_dataset=setup.eval_dataset if has_eval else None,
        data_collator=setup.data_collator,
        processing_class=setup.tokenizer,
        compute_metrics=setup.compute_metrics,
        callbacks=[watch.callback],
    )
    if setup.trainer_factory is not None:  # the task trains with a trainer of its own (e.g. TRL's)
        trainer = setup.trainer_factory(args, **common)
    else:
        trainer = make_trainer_class()(args=TrainingArguments(**args), compute_loss_func=setup.loss_func, **common)
        trainer.group_by_length = tc.group_by_length and setup.length_sorted_batches
        trainer.loss_at_trained_positions = setup.loss_at_trained_positions
        trainer.attention_plan = setup.attention
    trainer.remove_callback(PrinterCallback)  # progress goes to the run folder, not stdout
    trackers.guard(trainer)
    checkpoint = folder.last_checkpoint() if resuming else None
    emit({
        "type": "start",
        "task": config.task,
        "method": config.method,
        "model": config.model.source,
        "device": hw.device,
        "device_name": hw.name,
        "precision": _effective_precision(hw, setup.model),
        "precision_reason": hw.reason,
        "gradient_checkpointing": checkpointing,
        "gradient_checkpointing_reason": checkpointing_reason,
        **(setup.attention.to_event() if setup.attention is not None else {}),
        "liger_kernels": tc.liger_kernels,
        "train_examples": len(setup.train_dataset),
        "eval_examples": len(setup.eval_dataset),
        "max_steps": total,
        "world_size": world,
        "strategy": config.launch.strategy if world > 1 else None,
        "resumed_from": str(checkpoint) if checkpoint else None,
        **({"chart_metrics": list(setup.log_metrics.values())} if setup.log_metrics else {}),  # charted apart
        **data_info,
        **setup.info,
    })
    folder.write_status(state="running", step=0, max_steps=total, message="training")
    try:
        result = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
        step = trainer.state.global_step
        if has_eval and watch.last_eval_step != step and not watch.stopped:  # Stop means stop: no extra pass
            trainer.evaluate()
        if rank_zero():
            _save_final(trainer, setup, folder)
    except BaseException:
        trackers.finish("failed", {"step": trainer.state.global_step})
        raise
    state = "stopped" if watch.stopped else "finished"
    end = {
        "type": "end",
        "state": state,
        "step": step,
        "train_loss": round(float(result.training_loss), 5) if result.training_loss is not None else None,
        "runtime": round(time.time() - watch.started, 2),
        "model_dir": str(folder.model_dir),
        "memory_mb": peak_memory_mb(hw),
    }
    emit(end)
    trackers.finish(state, end)
    folder.clear_stop()
    message = "stopped on request; the model so far is saved and the run can resume" if watch.stopped else "done"
    return folder.write_status(state=state, step=step, max_steps=trainer.state.max_steps, message=message)


def _checkpointing(config: StudioConfig) -> tuple[bool, str]:
    """Gradient checkpointing on or off for this run, and why (``auto``: by the memory estimate)."""
    if config.train.gradient_checkpointing in ("on", "off"):
        return config.train.gradient_checkpointing == "on", f"gradient checkpointing {config.train.gradient_checkpointing}, as the config asks"
    from studio.core import estimate, models

    try:
        shape = estimate.ModelShape.from_describe(models.describe(config.model.source))
    except Exception as err:  # noqa: BLE001 - a model the estimate cannot size trains as it would have before
        return False, f"gradient checkpointing off: the model's size could not be read for the estimate ({type(err).__name__})"
    return estimate.checkpointing_choice(config, shape, vocab_logits=tasks.get(config.task).vocab_logits)


def _refuse_untrained_format(fmt: str, path: str, task_name: str = "") -> None:
    """Data the studio recognises that this run's task does not train on (single-answer feedback with the chat task):
    say what it is and which task trains it, train nothing."""
    from studio.data.formats import ABOUT

    if fmt not in ABOUT:
        return
    task = tasks.find(task_name) if task_name else None
    if task is not None and fmt in task.data_formats:
        return
    takers = [t.name for t in tasks.all_tasks() if fmt in t.data_formats]
    hint = f"; set task: {takers[0]}" if takers else ""
    raise StudioError(f"data.train: {Path(path).name} is {ABOUT[fmt]}{hint}")


def _effective_precision(hw: Hardware, model) -> str:
    """What the run really computes in: the device's mixed precision on a GPU; on a CPU, the frozen weights' dtype."""
    if hw.device == "cuda":
        return hw.precision
    import torch

    frozen = next((p.dtype for p in model.parameters() if not p.requires_grad), torch.float32)
    return "bf16" if frozen == torch.bfloat16 else "fp32"


def rank_zero() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def _any_rank(flag: bool) -> bool:
    """True when any training process says so (one process: the flag itself)."""
    try:
        import torch.distributed as dist
    except ImportError:
        return flag
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return flag
    import torch

    device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def _distributed_args(config: StudioConfig, hw: Hardware, world: int) -> dict:
    """TrainingArguments for several processes: gloo on CPUs, and the sharding strategy the config asks for."""
    if world <= 1:
        return {}
    out: dict = {"ddp_find_unused_parameters": False}
    if hw.device == "cpu":
        out["ddp_backend"] = "gloo"
    strategy = config.launch.strategy
    if strategy == "fsdp":
        out["fsdp"] = "full_shard auto_wrap"
        out["fsdp_config"] = {"use_orig_params": True}  # LoRA: frozen and trained weights in one shard
    elif strategy == "deepspeed":
        out["deepspeed"] = {"zero_optimization": {"stage": 2}, "train_micro_batch_size_per_gpu": "auto",
                            "gradient_accumulation_steps": "auto", "gradient_clipping": "auto",
                            "bf16": {"enabled": "auto"}, "fp16": {"enabled": "auto"}}
    return out


def _save_final(trainer, setup: TaskSetup, folder: RunFolder) -> None:
    """Write the adapter or model into model/ atomically, so that a half-written one is never found."""
    import shutil

    tmp = folder.path / "model.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    trainer.model.save_pretrained(str(tmp))
    setup.tokenizer.save_pretrained(str(tmp))
    if setup.save_extra is not None:
        setup.save_extra(tmp)
    shutil.rmtree(folder.model_dir, ignore_errors=True)
    os.replace(tmp, folder.model_dir)
