"""An Ollama Modelfile for a GGUF export: FROM the file, a TEMPLATE that writes the same prompt as the model's
chat template, its stop tokens and the system prompt the run used.

The Jinja chat template is not translated by hand: it is rendered for a probe conversation whose messages are
markers, and the text around each marker becomes the Go template's pieces for that role. The pieces are checked
by rendering a second conversation both ways (``render``); a template that cannot be written as pieces per
message gets no TEMPLATE line, and Ollama falls back to the chat template stored in the GGUF file.
"""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("system", "user", "assistant")
MARK = {"system": "\u27e6S\u27e7", "user": "\u27e6U\u27e7", "assistant": "\u27e6A\u27e7"}


@dataclass
class Pieces:
    before: dict        # role -> text before the message's content
    after: dict         # role -> text after it
    generation: str     # what asks the model for its turn
    default_system: str | None  # the system prompt the template adds when a conversation has none


def _render(tok, messages, gen=False) -> str:
    return tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=gen)


def derive(tok) -> Pieces | None:
    """The template's pieces per role, or None when it is not a plain wrapper around each message."""
    probe = [{"role": r, "content": MARK[r]} for r in ("system", "user", "assistant", "user")]
    try:
        before, after = {}, {}
        previous = ""
        for k in range(1, len(probe) + 1):
            text = _render(tok, probe[:k])
            if not text.startswith(previous):
                return None
            block, previous = text[len(previous):], text
            role = probe[k - 1]["role"]
            if block.count(MARK[role]) != 1:
                return None
            b, a = block.split(MARK[role])
            if before.setdefault(role, b) != b or after.setdefault(role, a) != a:
                return None
        generation = _render(tok, probe, gen=True)[len(previous):]
        bos = _added_bos(tok)
        for role in ROLES:  # llama.cpp and Ollama add BOS themselves
            if bos and before[role].startswith(bos):
                before[role] = before[role][len(bos):]
        alone = _render(tok, probe[1:2])
        head = alone[: alone.index(before["user"] + MARK["user"])] if before["user"] + MARK["user"] in alone else ""
        if bos and head.startswith(bos):
            head = head[len(bos):]
        default = None
        if head and head.startswith(before["system"]) and head.endswith(after["system"]):
            default = head[len(before["system"]): len(head) - len(after["system"])]
        pieces = Pieces(before, after, generation, default)
    except Exception:  # noqa: BLE001 - templates that reject a role or the probe: no TEMPLATE line
        return None
    check = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
             {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "And you?"}]
    want = _render(tok, check, gen=True)
    got = render(pieces, check)
    return pieces if want in (got, _added_bos(tok) + got) else None


def _added_bos(tok) -> str:
    """The BOS text when the tokenizer adds BOS by itself (llama.cpp and Ollama then add it too), else ""."""
    try:
        ids = tok("a")["input_ids"]
    except Exception:  # noqa: BLE001
        return ""
    return tok.bos_token if tok.bos_token and ids[:1] == [tok.bos_token_id] else ""


def render(pieces: Pieces, messages: list[dict], system: str | None = None) -> str:
    """What the Go template writes for ``messages`` (Ollama puts SYSTEM first when there is no system message)."""
    if system and not (messages and messages[0]["role"] == "system"):
        messages = [{"role": "system", "content": system}] + list(messages)
    text = "".join(pieces.before[m["role"]] + m["content"] + pieces.after[m["role"]] for m in messages)
    return text + pieces.generation


def go_template(pieces: Pieces) -> str:
    """The Go template (Ollama's TEMPLATE) that writes the same text as ``render``."""
    def part(role: str) -> str:
        return f'{_go(pieces.before[role])}{{{{ .Content }}}}{_go(pieces.after[role])}'

    # no "{{-": it would trim the newlines that end the pieces
    return ("{{ range .Messages }}"
            f'{{{{ if eq .Role "system" }}}}{part("system")}'
            f'{{{{ else if eq .Role "user" }}}}{part("user")}'
            f'{{{{ else if eq .Role "assistant" }}}}{part("assistant")}'
            "{{ end }}{{ end }}" + _go(pieces.generation))


def _go(text: str) -> str:
    """Literal text inside a Go template (a ``{{`` would start an action)."""
    return text.replace("{{", '{{ "{{" }}')


def stop_tokens(tok, pieces: Pieces | None) -> list[str]:
    stops = [tok.eos_token] if tok.eos_token else []
    if pieces:
        for special in getattr(tok, "all_special_tokens", []):
            if special and special in pieces.after["assistant"] and special not in stops:
                stops.append(special)
    return stops


def modelfile(gguf_name: str, tok, system: str | None) -> tuple[str, Pieces | None]:
    """The Modelfile text, and the pieces its TEMPLATE was made from (None: no TEMPLATE line)."""
    pieces = derive(tok)
    system = system or (pieces.default_system if pieces else None)
    lines = ["# Ollama: ollama create my-model -f Modelfile && ollama run my-model", f"FROM ./{gguf_name}"]
    if pieces:
        lines.append(f'TEMPLATE """{go_template(pieces)}"""')
    else:
        lines.append("# The chat template could not be written as a Go template; Ollama uses the one in the GGUF file.")
    if system and '"""' not in system:
        lines.append(f'SYSTEM """{system}"""')
    for stop in stop_tokens(tok, pieces):
        lines.append(f'PARAMETER stop "{_quote(stop)}"')
    return "\n".join(lines) + "\n", pieces


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
