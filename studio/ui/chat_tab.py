"""Chat tab: the base model and a tuned run side by side, one message to both, replies streamed.

The try panel of every task whose model writes replies (``studio.tasks.base.CHAT_PANEL``; the panel contract is in
``studio/ui/panels.py``)."""

from __future__ import annotations

import gradio as gr

from studio.core.errors import StudioError
from studio.core.generate import Sampling
from studio.ui import help as texts
from studio.ui.common import error_md, esc, explain, history_to_messages

BASE_ONLY = "__base__"
TITLE = "Chat"
TAB_ID = "chat"
WHERE = "the **Chat** tab, base and tuned side by side"


def choices_for(ctx, model_source: str, request=None) -> list[tuple[str, str]]:
    runs = ctx.run_choices(request, panel=__name__, with_model=True)
    return runs + [(f"No run: the base model alone ({model_source or 'smollm2'})", BASE_ONLY)]


def pick_default(choices: list[tuple[str, str]], current: str | None, followed: str | None) -> str:
    ids = [c[1] for c in choices]
    for candidate in (followed, current):
        if candidate and candidate in ids and candidate != BASE_ONLY:
            return candidate
    if current in ids:
        return current
    return ids[0]


def describe_pick(ctx, pick: str, model_source: str, request=None) -> str:
    if not pick or pick == BASE_ONLY:
        return f"**Base:** {esc(model_source or 'smollm2')} · **Tuned:** none (pick a finished run to compare)"
    info = ctx.runs(request).info(pick)
    kind = "LoRA adapter: one copy of the base model serves both sides" if info.method in ("lora", "qlora") else "a full copy of the tuned weights"
    return f"**Base:** {esc(info.model)} · **Tuned:** {esc(pick)} ({esc(info.state)}, step {info.step}; {kind})"


def eval_models(ctx, runs, run_id: str, progress=None):
    """The Evaluate tab reuses the base and tuned models this tab keeps loaded for the run."""
    if progress:
        progress(0.01, "loading the base and tuned models")
    return ctx.chats.get(runs, run_id=run_id)


def sampling_of(temperature, top_p, max_new_tokens, repetition_penalty) -> Sampling:
    return Sampling(max_new_tokens=int(max_new_tokens), temperature=float(temperature), top_p=float(top_p),
                    repetition_penalty=float(repetition_penalty))


def build(ctx):
    gr.Markdown(texts.CHAT)
    with gr.Row():
        pick = gr.Dropdown(choices=[], label="Run to compare", scale=4, elem_id="chat-pick")
        refresh = gr.Button("↻ Refresh", scale=1)
    which = gr.Markdown(elem_id="chat-which")
    with gr.Row(equal_height=True):
        base_bot = gr.Chatbot(label="Base model", height=380, elem_id="chat-base", buttons=["copy"])
        tuned_bot = gr.Chatbot(label="Tuned model", height=380, elem_id="chat-tuned", buttons=["copy"])
    with gr.Row():
        text = gr.Textbox(placeholder="Ask both models something, e.g. What is the capital of Spain?", show_label=False,
                          scale=5, elem_id="chat-input", submit_btn=False)
        send = gr.Button("Send", variant="primary", scale=1, elem_id="chat-send")
        clear = gr.Button("Clear", scale=1)
    image = gr.Image(type="filepath", label="Image (vision runs): both models see it with your message", height=160,
                     sources=["upload", "clipboard"], elem_id="chat-image")
    message = gr.Markdown(elem_id="chat-message")
    with gr.Accordion("Sampling and system prompt", open=False):
        with gr.Row():
            temperature = gr.Slider(0.0, 2.0, value=0.0, step=0.05, label="Temperature",
                                    info="0 answers greedily: the same question always gets the same answer. Higher is more varied.")
            top_p = gr.Slider(0.05, 1.0, value=0.9, step=0.05, label="Top-p",
                              info="With temperature above 0: sample only from the most likely words that add up to this share.")
            max_new = gr.Slider(8, 1024, value=96, step=8, label="Max new tokens", info="The longest reply, in tokens.")
            rep = gr.Slider(1.0, 2.0, value=1.0, step=0.05, label="Repetition penalty",
                            info="Above 1 discourages repeating the same words.")
        system = gr.Textbox(label="System prompt (optional)", placeholder="You are a helpful assistant.",
                            info="Sent first to both models, in the model's own chat template.")
    with gr.Accordion("The prompt as the model sees it (its chat template)", open=False):
        prompt_view = gr.Code(label="Rendered prompt", language=None, interactive=False)

    def refresh_choices(current, followed, model_source, request: gr.Request = None):
        choices = choices_for(ctx, model_source, request)
        value = pick_default(choices, current, followed)
        try:
            return gr.update(choices=choices, value=value), describe_pick(ctx, value, model_source, request)
        except Exception as err:  # noqa: BLE001
            return gr.update(choices=choices, value=value), explain(err)

    refresh.click(refresh_choices, [pick, ctx.run_id, ctx.model_source], [pick, which], api_name="chat_runs")
    ctx.tabs_by_id[TAB_ID].select(refresh_choices, [pick, ctx.run_id, ctx.model_source], [pick, which],
                                  api_visibility="private")
    ctx.on_load.append((refresh_choices, [pick, ctx.run_id, ctx.model_source], [pick, which]))

    def on_pick(p, model_source, request: gr.Request = None):
        try:
            return describe_pick(ctx, p, model_source, request), [], []
        except Exception as err:  # noqa: BLE001
            return explain(err), [], []

    pick.input(on_pick, [pick, ctx.model_source], [which, base_bot, tuned_bot], api_visibility="private")

    def respond(user_text, hist_base, hist_tuned, p, model_source, sys_prompt, temp, tp, mx, rp, picture=None,
                request: gr.Request = None):
        """Stream the base reply, then the tuned one; yields (textbox, base, tuned, prompt, message)."""
        user_text = (user_text or "").strip()
        hist_base, hist_tuned = list(hist_base or []), list(hist_tuned or [])
        if not user_text:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), error_md("type a message first")
            return
        run_id = None if not p or p == BASE_ONLY else p
        sampling = sampling_of(temp, tp, mx, rp)
        head = [{"role": "system", "content": sys_prompt.strip()}] if (sys_prompt or "").strip() else []
        sides = [("base", hist_base, False)] + ([("tuned", hist_tuned, True)] if run_id else [])
        for _, hist, _ in sides:
            hist.append({"role": "user", "content": user_text})
        yield "", hist_base, hist_tuned, gr.skip(), "◷ Loading the models (a few seconds the first time)…"
        prompt = ""
        try:
            chat = ctx.chats.get(ctx.runs(request), run_id=run_id, base_source=model_source or "smollm2")
            seeing = getattr(chat, "takes_images", False)  # a vision run: the image goes with the message
            if picture and not seeing:
                raise StudioError("this model reads text only; pick a vision run to ask about an image")
            extra = {"images": [picture] if picture else []} if seeing else {}
            for side, hist, tuned in sides:
                msgs = head + history_to_messages(hist)
                prompt = chat.prompt_text(msgs, len(extra["images"])) if seeing else chat.prompt_text(msgs)
                hist.append({"role": "assistant", "content": ""})
                for piece in chat.stream(msgs, tuned=tuned, sampling=sampling, **extra):
                    hist[-1] = {"role": "assistant", "content": hist[-1]["content"] + piece}
                    yield gr.skip(), hist_base, hist_tuned, prompt, f"✎ The {side} model is writing…"
            done = "" if run_id else "Pick a finished run above to see the tuned model's reply too."
            yield "", hist_base, hist_tuned, prompt, done
        except Exception as err:  # noqa: BLE001 - shown as a message
            yield gr.skip(), hist_base, hist_tuned, gr.skip(), explain(err)

    chat_inputs = [text, base_bot, tuned_bot, pick, ctx.model_source, system, temperature, top_p, max_new, rep, image]
    chat_outputs = [text, base_bot, tuned_bot, prompt_view, message]
    send.click(respond, chat_inputs, chat_outputs, api_name="chat")
    text.submit(respond, chat_inputs, chat_outputs, api_visibility="private")
    clear.click(lambda: ([], [], "", ""), None, [base_bot, tuned_bot, prompt_view, message], api_visibility="private")
    return {"pick": pick, "base": base_bot, "tuned": tuned_bot, "text": text, "send": send}
