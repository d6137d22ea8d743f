"""A deterministic OpenAI-compatible model server for tests, on the standard library only.

Endpoints (vLLM-like): ``POST /v1/completions`` (``echo`` + ``logprobs`` give prompt token logprobs,
``max_tokens`` 0 allowed), ``POST /v1/chat/completions``, ``GET /v1/models``, ``POST /tokenize``,
``POST /detokenize``, ``GET /tokenizer_info`` and ``GET /health``.

The "model" is a character tokenizer (token id = code point; ``<|endoftext|>`` is one special token)
with log-probabilities hashed from (context, token): multiple-choice scores are arbitrary but
stable. Generations come from ``answers`` (question text -> reply; the question found latest in
the prompt wins), else a hash-derived ``"The answer is <word>."``.

    with ModelServer(latency=0.01) as server:
        server.base_url  # http://127.0.0.1:<port>/v1

    python -m tests.support.model_server --port 8001   # prints "READY <base_url>" when serving
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from typing import Any

from tests.support.jsonhttp import JsonHandler

EOS = "<|endoftext|>"
EOS_ID = 0x110000  # just above the last Unicode code point, so it never collides with a character
WORDS = ("red", "blue", "seven", "Paris", "water", "north", "four", "cat", "iron", "June", "oak", "salt")
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def encode(text: str) -> list[int]:
    ids: list[int] = []
    i = 0
    while i < len(text):
        if text.startswith(EOS, i):
            ids.append(EOS_ID)
            i += len(EOS)
        else:
            ids.append(ord(text[i]))
            i += 1
    return ids


def decode(ids: list[int]) -> str:
    if any(not isinstance(t, int) or t < 0 or t > EOS_ID for t in ids):
        raise ValueError("token ids must be integers in [0, 0x110000]")
    return "".join(EOS if t == EOS_ID else chr(t) for t in ids)


def _unit(*parts: bytes) -> float:
    """A number in [0, 1) hashed from ``parts``."""
    digest = hashlib.blake2b(b"\x00".join(parts), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def token_logprobs(ids: list[int]) -> tuple[list[float | None], list[dict[str, float] | None]]:
    """Per-position logprob of each token given all before it (None for the first), with top-1."""
    lps: list[float | None] = [None]
    tops: list[dict[str, float] | None] = [None]
    state = b""
    for prev, tok in itertools.pairwise(ids):
        state = hashlib.blake2b(state + prev.to_bytes(4, "big"), digest_size=16).digest()
        lp = -(0.05 + 6.0 * _unit(state, tok.to_bytes(4, "big")))
        lps.append(lp)
        # The "greedy" token is the real one when it is likely enough, else an invented alternative.
        tops.append({decode([tok]): lp} if lp > -0.5 else {"\u2581": -0.5})
    return lps, tops


class ModelServer:
    """Start with ``start()`` or ``with``; counters are safe to read while requests run."""

    def __init__(
        self,
        port: int = 0,
        latency: float = 0.0,
        *,
        host: str = "127.0.0.1",
        model: str = "evalhub-test",
        api_key: str | None = None,
        logprobs: bool = True,
        answers: Mapping[str, str] | None = None,
        max_model_len: int = 4096,
    ) -> None:
        self.host = host
        self.port = port
        self.latency = latency
        self.model = model
        self.api_key = api_key
        self.logprobs = logprobs
        """False: behave like an endpoint without prompt logprobs (``logprobs`` is always null)."""
        self.answers = dict(answers or {})
        self.max_model_len = max_model_len
        self.counts: Counter[str] = Counter()
        """Requests per path."""
        self.in_flight = 0
        self.max_in_flight = 0
        """Most model requests (completions, chat) handled at the same time."""
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def requests(self) -> int:
        with self._lock:
            return sum(self.counts.values())

    def reset_counters(self) -> None:
        with self._lock:
            self.counts.clear()
            self.max_in_flight = 0

    def start(self) -> ModelServer:
        handler = type("Handler", (_Handler,), {"server_state": self})
        httpd = _HTTPServer((self.host, self.port), handler, bind_and_activate=False)
        httpd.server_bind()
        httpd.server_activate()
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, name="model-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- the "model"
    def reply(self, prompt: str) -> str:
        """What the model says after ``prompt``: the answer to the question asked last in it."""
        best, best_at = None, -1
        for question, answer in self.answers.items():
            at = prompt.rfind(question)
            if at > best_at:
                best, best_at = answer, at
        if best is not None:
            return best
        return f"The answer is {WORDS[int(_unit(prompt.encode()) * len(WORDS))]}."

    def generate(self, prompt: str, max_tokens: int, stop: list[str]) -> tuple[str, str]:
        """Generated text (stop sequences and max_tokens applied) and its finish_reason."""
        text, reason = self.reply(prompt), "stop"
        cuts = [i for s in stop if s and (i := text.find(s)) >= 0]
        if cuts:
            text = text[: min(cuts)]
        if len(encode(text)) > max_tokens:
            text, reason = decode(encode(text)[:max_tokens]), "length"
        return text, reason

    @contextmanager
    def _busy(self) -> Iterator[None]:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency > 0:
                time.sleep(self.latency)
            yield
        finally:
            with self._lock:
                self.in_flight -= 1

    def completions(self, body: dict[str, Any]) -> dict[str, Any]:
        prompts = _prompts(body.get("prompt"))
        max_tokens = int(body.get("max_tokens", 16) if body.get("max_tokens") is not None else 16)
        stop = _stops(body.get("stop"))
        echo = bool(body.get("echo", False))
        want_logprobs = body.get("logprobs") is not None and self.logprobs
        choices, prompt_tokens, completion_tokens = [], 0, 0
        with self._busy():
            for index, ids in enumerate(prompts):
                text, reason = self.generate(decode(ids), max_tokens, stop)
                gen_ids = encode(text)
                prompt_tokens += len(ids)
                completion_tokens += len(gen_ids)
                choice: dict[str, Any] = {
                    "index": index,
                    "text": (decode(ids) if echo else "") + text,
                    "logprobs": None,
                    "finish_reason": reason,
                }
                if want_logprobs:
                    all_ids = ids + gen_ids
                    lps, tops = token_logprobs(all_ids)
                    keep = slice(0 if echo else len(ids), None)
                    pieces = [decode([t]) for t in all_ids][keep]
                    offsets, at = [], 0
                    for piece in pieces:
                        offsets.append(at)
                        at += len(piece)
                    choice["logprobs"] = {
                        "tokens": pieces,
                        "token_logprobs": lps[keep],
                        "top_logprobs": tops[keep],
                        "text_offset": offsets,
                    }
                choices.append(choice)
        return {
            "id": f"cmpl-{self.requests}",
            "object": "text_completion",
            "created": int(time.time()),
            "model": self.model,
            "choices": choices,
            "usage": _usage(prompt_tokens, completion_tokens),
        }

    def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _BadRequest("'messages' must be a non-empty list")
        users = [_content(m) for m in messages if isinstance(m, dict) and m.get("role") == "user"]
        prompt = users[-1] if users else _content(messages[-1])
        max_tokens = body.get("max_completion_tokens", body.get("max_tokens")) or 256
        with self._busy():
            text, reason = self.generate(prompt, int(max_tokens), _stops(body.get("stop")))
        everything = "".join(_content(m) for m in messages if isinstance(m, dict))
        return {
            "id": f"chatcmpl-{self.requests}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "logprobs": None,
                    "finish_reason": reason,
                }
            ],
            "usage": _usage(len(encode(everything)), len(encode(text))),
        }


class _BadRequest(Exception):
    pass


def _prompts(prompt: Any) -> list[list[int]]:
    """The batch of prompts as token ids: a string, a list of strings, token ids or lists of them."""
    if isinstance(prompt, str):
        return [encode(prompt)]
    if isinstance(prompt, list) and prompt:
        if all(isinstance(p, int) for p in prompt):
            return [list(prompt)]
        if all(isinstance(p, str) for p in prompt):
            return [encode(p) for p in prompt]
        if all(isinstance(p, list) and all(isinstance(t, int) for t in p) for p in prompt):
            return [list(p) for p in prompt]
    raise _BadRequest("'prompt' must be a string, a list of strings, or token ids")


def _stops(stop: Any) -> list[str]:
    if stop is None:
        return []
    return [stop] if isinstance(stop, str) else [s for s in stop if isinstance(s, str)]


def _content(message: Any) -> str:
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):  # content parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _error(message: str, kind: str, code: int) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # clients hanging up are no news
            super().handle_error(request, client_address)


class _Handler(JsonHandler):
    server_state: ModelServer

    def handle_json(self, method: str) -> None:
        state = self.server_state
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        raw = self.read_body()
        with state._lock:
            state.counts[path] += 1
        authorized = self.headers.get("Authorization") == f"Bearer {state.api_key}"
        if state.api_key and path.startswith("/v1/") and not authorized:
            return self.send_json(401, {"error": "Unauthorized"})
        try:
            body = json.loads(raw) if raw else {}
            if not isinstance(body, dict):
                raise _BadRequest("the body must be a JSON object")
            status, answer = self._route(method, path, body)
        except (_BadRequest, ValueError) as exc:
            status, answer = 400, _error(str(exc), "BadRequestError", 400)
        self.send_json(status, answer)

    def _route(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        state = self.server_state
        if method == "POST" and path in ("/v1/completions", "/v1/chat/completions"):
            name = body.get("model", state.model)
            if name != state.model:
                return 404, _error(f"The model `{name}` does not exist.", "NotFoundError", 404)
            if path == "/v1/completions":
                return 200, state.completions(body)
            return 200, state.chat(body)
        if method == "GET" and path == "/v1/models":
            card = {"id": state.model, "object": "model", "owned_by": "evalhub-tests"}
            return 200, {"object": "list", "data": [card | {"max_model_len": state.max_model_len}]}
        if method == "POST" and path == "/tokenize":
            if "messages" in body:
                text = "".join(_content(m) for m in body["messages"])
            elif isinstance(body.get("prompt"), str):
                text = body["prompt"]
            else:
                raise _BadRequest("'prompt' must be a string")
            ids = encode(text)
            return 200, {"count": len(ids), "max_model_len": state.max_model_len, "tokens": ids}
        if method == "POST" and path == "/detokenize":
            tokens = body.get("tokens")
            if not isinstance(tokens, list):
                raise _BadRequest("'tokens' must be a list of ints")
            return 200, {"prompt": decode(tokens)}
        if method == "GET" and path == "/tokenizer_info":
            return 200, {
                "tokenizer_class": "EvalHubCharTokenizer",
                "eos_token": EOS,
                "bos_token": None,
                "pad_token": EOS,
                "chat_template": CHAT_TEMPLATE,
                "model_max_length": state.max_model_len,
            }
        if method == "GET" and path == "/health":
            return 200, {}
        return 404, {"detail": "Not Found"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Deterministic OpenAI-compatible test model server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to each model request")
    parser.add_argument("--model", default="evalhub-test")
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--no-logprobs", action="store_true", help="never return logprobs")
    parser.add_argument("--answers", default=None, help="JSON file: {question text: reply}")
    args = parser.parse_args(argv)
    answers = None
    if args.answers:
        with open(args.answers, encoding="utf-8") as f:
            answers = json.load(f)
    server = ModelServer(
        args.port,
        args.latency,
        host=args.host,
        model=args.model,
        api_key=args.api_key,
        logprobs=not args.no_logprobs,
        answers=answers,
    ).start()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    print(f"READY {server.base_url}", flush=True)
    stopped.wait()
    server.stop()


if __name__ == "__main__":
    main()
