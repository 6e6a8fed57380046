"""The HTTP API: OpenAI's ``/v1/models``, ``/v1/chat/completions`` and ``/v1/completions`` for served runs.

Endpoints are plain (synchronous) functions, so FastAPI runs each request in its worker threads; requests to one
loaded model that arrive together share one ``generate`` (``studio.serve.batching``).
"""

from __future__ import annotations

import json
import logging
import secrets
import time
import uuid

from fastapi import APIRouter, FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request

from studio.serve.errors import ApiError, error_body
from studio.serve.generate import Params, Reply, chat_prompt, encode
from studio.serve.schemas import ChatRequest, CompletionRequest, Options

DEFAULT_MAX_TOKENS = 512  # a reply's length when a request names none (less where the context ends sooner)
log = logging.getLogger("studio.serve")


def create_app(served, api_key: str | None = None, gate=None) -> FastAPI:
    """The app for these model ids (``studio.serve.loading.load``); with ``api_key`` every /v1 request needs it.

    ``served`` may instead be a function of the caller (what ``gate`` returned) giving the models that caller
    reaches: the studio's own page serves each person's runs to their keys only. ``gate(authorization_header)``
    returns the caller or raises ``ApiError`` (401 for a wrong key, 429 with Retry-After when over a limit); it runs
    before the request body is read."""
    app = FastAPI(title="studio serve", docs_url=None, redoc_url=None, openapi_url=None)
    created = int(time.time())
    if api_key is not None:
        gate = _one_key(api_key)

    def reachable(request: Request) -> dict:
        return served(request.scope.get("studio_caller")) if callable(served) else served

    def find(request: Request, model_id: str):
        models = reachable(request)
        if model_id not in models:
            raise ApiError(404, f"The model '{model_id}' does not exist here; GET /v1/models lists the served "
                                f"models ({', '.join(models) or 'none now'})", param="model", code="model_not_found")
        return models[model_id]

    def model_card(s) -> dict:
        return {"id": s.id, "object": "model", "created": created, "owned_by": "studio"}

    router = APIRouter(prefix="/v1")

    @router.get("/models")
    def list_models(request: Request):
        return {"object": "list", "data": [model_card(s) for s in reachable(request).values()]}

    @router.get("/models/{model_id:path}")
    def get_model(model_id: str, request: Request):
        return model_card(find(request, model_id))

    @router.post("/chat/completions")
    def chat_completions(body: ChatRequest, request: Request):
        s = find(request, body.model)
        _refuse_unsupported(body)
        messages = _messages(body, s.system_prompt)
        try:
            text = chat_prompt(s, messages, body.tools)
        except Exception as err:  # noqa: BLE001 - a template that refuses these messages: the request's fault
            raise ApiError(400, f"the chat template of {s.id} cannot render these messages: {err}", param="messages") from err
        ids = encode(s, text, chat=True)
        reply = Reply(s, ids, _params(body, body.max_completion_tokens or body.max_tokens, len(ids), s, "messages"))
        rid = f"chatcmpl-{uuid.uuid4().hex}"
        if body.stream:
            return _sse(_chat_chunks(reply, rid, s.id, _include_usage(body)))
        content = "".join(reply)
        return {"id": rid, "object": "chat.completion", "created": int(time.time()), "model": s.id,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                             "logprobs": None, "finish_reason": reply.finish_reason}],
                "usage": _usage(reply)}

    @router.post("/completions")
    def completions(body: CompletionRequest, request: Request):
        s = find(request, body.model)
        _refuse_unsupported(body)
        prompt = body.prompt
        if isinstance(prompt, list):
            if len(prompt) != 1:
                raise ApiError(400, "prompt: one prompt per request is served; send a string", param="prompt")
            prompt = prompt[0]
        ids = encode(s, prompt, chat=False)
        reply = Reply(s, ids, _params(body, body.max_tokens, len(ids), s, "prompt"))
        rid = f"cmpl-{uuid.uuid4().hex}"
        if body.stream:
            return _sse(_completion_chunks(reply, rid, s.id, _include_usage(body)))
        text = "".join(reply)
        return {"id": rid, "object": "text_completion", "created": int(time.time()), "model": s.id,
                "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": reply.finish_reason}],
                "usage": _usage(reply)}

    app.include_router(router)
    _error_handlers(app)
    if gate is not None:
        app.add_middleware(Gate, gate=gate)
    return app


def _one_key(key: str):
    expected = f"Bearer {key}".encode()

    def check(header: str):
        if not secrets.compare_digest(header.encode(), expected):
            raise ApiError(401, "missing or wrong API key; send the header 'Authorization: Bearer <key>' with "
                                "the key this server was started with", code="invalid_api_key")
        return None

    return check


class Gate:
    """Every request passes ``gate`` (its Authorization header) before the body is read or anything answers; the
    caller it returns is ``scope["studio_caller"]``."""

    def __init__(self, app, gate):
        self.app, self.gate = app, gate

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            try:
                caller = self.gate(Headers(scope=scope).get("authorization", ""))
            except ApiError as error:
                await JSONResponse(error.body(), status_code=error.status, headers=error.headers)(scope, receive, send)
                return
            scope = dict(scope, studio_caller=caller)
        await self.app(scope, receive, send)


# ---- requests --------------------------------------------------------------------------------------------
def _refuse_unsupported(body: Options) -> None:
    if body.logprobs:
        raise ApiError(400, "logprobs: not served here; leave it out", param="logprobs")


def _messages(body: ChatRequest, system_prompt: str | None) -> list[dict]:
    """OpenAI messages as chat templates read them; the run's system prompt first when the request has none."""
    out = []
    for i, m in enumerate(body.messages):
        content = m.content
        if isinstance(content, list):
            parts = []
            for part in content:
                if part.get("type") != "text":
                    raise ApiError(400, f"messages[{i}].content: only text parts are served, not "
                                        f"'{part.get('type')}'", param=f"messages[{i}].content")
                parts.append(str(part.get("text", "")))
            content = "".join(parts)
        msg = {"role": "system" if m.role == "developer" else m.role, "content": content or ""}
        if m.tool_calls:
            msg["tool_calls"] = [_tool_call(c) for c in m.tool_calls]
        for key in ("tool_call_id", "name"):
            if getattr(m, key):
                msg[key] = getattr(m, key)
        out.append(msg)
    if system_prompt and not any(m["role"] == "system" for m in out):
        out.insert(0, {"role": "system", "content": system_prompt})
    return out


def _tool_call(call: dict) -> dict:
    """A tool call with its arguments as an object (OpenAI sends them as a JSON string; templates read objects)."""
    fn = dict(call.get("function") or {})
    if isinstance(fn.get("arguments"), str):
        try:
            fn["arguments"] = json.loads(fn["arguments"])
        except ValueError:
            pass
    return {**call, "type": call.get("type", "function"), "function": fn}


def _params(body: Options, max_tokens: int | None, prompt_tokens: int, s, prompt_param: str) -> Params:
    limit = s.context_length
    seq2seq = s.loaded.seq2seq
    if limit is not None and max_tokens is not None and max_tokens > limit:
        raise ApiError(400, f"max_tokens: {max_tokens} is over the model's limit of {limit} tokens; ask for fewer",
                       param="max_tokens")
    room = None if limit is None else (limit if seq2seq else limit - prompt_tokens)
    if room is not None and room < 1:
        raise ApiError(400, f"This model's maximum context length is {limit} tokens, and the {prompt_param} alone "
                            f"take {prompt_tokens}; shorten them", param=prompt_param, code="context_length_exceeded")
    if max_tokens is None:
        max_tokens = DEFAULT_MAX_TOKENS if room is None else min(DEFAULT_MAX_TOKENS, room)
    elif room is not None and max_tokens > room:
        raise ApiError(400, f"This model's maximum context length is {limit} tokens; you asked for {prompt_tokens + max_tokens} "
                            f"({prompt_tokens} in the {prompt_param}, {max_tokens} for the reply); ask for at most "
                            f"{room} tokens or shorten the {prompt_param}", param="max_tokens",
                       code="context_length_exceeded")
    stop = [body.stop] if isinstance(body.stop, str) else list(body.stop or [])
    if len(stop) > 4 or any(not s_ for s_ in stop):
        raise ApiError(400, "stop: up to 4 strings, none of them empty", param="stop")
    return Params(max_tokens, 1.0 if body.temperature is None else body.temperature,
                  1.0 if body.top_p is None else body.top_p, stop, body.seed)


def _include_usage(body: Options) -> bool:
    return bool((body.stream_options or {}).get("include_usage"))


def _usage(reply: Reply) -> dict:
    return {"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens,
            "total_tokens": reply.prompt_tokens + reply.completion_tokens}


# ---- streams ---------------------------------------------------------------------------------------------
def _sse(events) -> StreamingResponse:
    return StreamingResponse(events, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


def _event(data) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


def _stream(reply: Reply, chunk, include_usage: bool):
    """Server-sent events: a chunk per piece, the last one with the finish reason, then ``[DONE]``."""
    try:
        yield _event(chunk(None, None, first=True))
        for piece in reply:
            yield _event(chunk(piece, None))
        yield _event(chunk(None, reply.finish_reason))
        if include_usage:
            yield _event({**chunk(None, None), "choices": [], "usage": _usage(reply)})
    except Exception as err:  # noqa: BLE001 - the status line is sent already: the error goes in the stream
        log.error("a streamed reply failed", exc_info=err)
        yield _event(error_body(500, "the model failed while writing this reply; see the server's log"))
    finally:
        reply.cancel()
    yield "data: [DONE]\n\n"


def _chat_chunks(reply: Reply, rid: str, model: str, include_usage: bool):
    created = int(time.time())

    def chunk(piece, finish, first=False):
        delta = {"role": "assistant", "content": ""} if first else ({"content": piece} if piece is not None else {})
        return {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

    return _stream(reply, chunk, include_usage)


def _completion_chunks(reply: Reply, rid: str, model: str, include_usage: bool):
    created = int(time.time())

    def chunk(piece, finish, first=False):
        return {"id": rid, "object": "text_completion", "created": created, "model": model,
                "choices": [{"index": 0, "text": piece or "", "logprobs": None, "finish_reason": finish}]}

    return _stream(reply, chunk, include_usage)


# ---- errors ----------------------------------------------------------------------------------------------
def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    def api_error(request, err: ApiError):
        return JSONResponse(err.body(), status_code=err.status, headers=err.headers)

    @app.exception_handler(RequestValidationError)
    def bad_request(request, err: RequestValidationError):
        first = err.errors()[0] if err.errors() else {}
        loc = [str(p) for p in first.get("loc", ()) if p != "body"]
        if first.get("type") == "json_invalid":
            return JSONResponse(error_body(400, "the request body is not valid JSON"), status_code=400)
        param = ".".join(loc) or None
        message = first.get("msg", "invalid request")
        return JSONResponse(error_body(400, f"{param}: {message}" if param else message, param), status_code=400)

    @app.exception_handler(HTTPException)
    def http_error(request, err: HTTPException):
        message = {404: f"no such endpoint: {request.method} {request.url.path}; the API is under /v1",
                   405: f"{request.method} is not allowed on {request.url.path}"}.get(err.status_code, str(err.detail))
        return JSONResponse(error_body(err.status_code, message), status_code=err.status_code)

    @app.exception_handler(Exception)
    def server_error(request, err: Exception):
        log.error("a request failed: %s %s", request.method, request.url.path, exc_info=err)
        return JSONResponse(error_body(500, "the server failed while answering; see the server's log"), status_code=500)
