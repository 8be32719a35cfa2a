"""The OpenAI-compatible server backend, against a real server and, for faults, a hand-written one.

The real server is ``transformers serve`` (from ``transformers[serving]``) on loopback, serving a tiny
random Qwen2 built here. Its tokenizer only knows printable ASCII and its weights are drawn wide
(std 0.5), so greedy decoding produces varied, non-blank text that streams and decodes identically;
the usual tiny test model (std 0.02) greedily repeats "\\n", which would make the equality checks weak.

Faults a real server will not produce on demand (429/503 with Retry-After, a connection cut mid-stream,
a stream that never sends a token, error events, 401) come from ``FakeServer``, a small HTTP/1.1 server
on loopback that answers from a script.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import string
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from local_server import ServerDidNotStart, free_port, running_server
from patchloop.core.backends import load_backend
from patchloop.core.backends.base import ModelError
from patchloop.core.backends.openai_backend import DEFAULT_BASE_URL, OpenAIBackend
from patchloop.core.backends.openai_errors import retry_after_seconds as _retry_after_seconds
from patchloop.core.types import Cancelled, GenParams, GenStats
from tiny_model import build_tiny_model

PROMPT = [{"role": "user", "content": "Write a Python function that adds two numbers."}]


# ----- the real server: transformers serve on a tiny random Qwen2 -----


def build_chat_model(folder: Path) -> None:
    """A 2-layer Qwen2 with a byte-level BPE over printable ASCII and a ChatML template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    corpus = [string.printable, "def add(a, b):\n    return a + b\n", PROMPT[0]["content"]] * 20
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<unk>", "<|im_start|>", "<|im_end|>", "<|endoftext|>"]
    )
    tokenizer.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="<unk>", eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    fast.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    fast.save_pretrained(folder)
    model = build_tiny_model(
        len(fast), [fast.eos_token_id], fast.pad_token_id, seed=1, hidden_size=32, initializer_range=0.5
    )
    model.save_pretrained(folder)


@dataclass
class RealServer:
    base_url: str
    model: str  # the name requests must use: transformers serve is pinned to this path
    model_dir: Path


@pytest.fixture(scope="module")
def real_server(tmp_path_factory):
    from transformers.utils.import_utils import is_serve_available

    if not is_serve_available():  # a failure, not a skip: these are the only tests against a real server
        pytest.fail("transformers serve needs its extras (fastapi, uvicorn, openai): pip install -e '.[dev]'")
    root = tmp_path_factory.mktemp("openai_server")
    model_dir = root / "tiny-chat"
    build_chat_model(model_dir)
    port = free_port()
    env = {
        **os.environ,
        "HF_HOME": str(root / "hf"),  # an empty hub cache: nothing is fetched, nothing of the user's listed
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_DISABLE_UPDATE_CHECK": "1",
        "OMP_NUM_THREADS": "1",
    }
    command = [sys.executable, "-c", "from transformers.cli.transformers import main; main()"]
    command += ["serve", str(model_dir), "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]
    try:
        with running_server(
            command,
            env,
            f"http://127.0.0.1:{port}/health",
            name="transformers serve",
            start_within=180,
            stop_within=15,
        ):
            yield RealServer(f"http://127.0.0.1:{port}/v1", str(model_dir), model_dir)
    except ServerDidNotStart as exc:
        pytest.fail(str(exc))
    finally:
        shutil.rmtree(root / "hf", ignore_errors=True)


@pytest.fixture
def served(real_server):
    backend = OpenAIBackend(real_server.model, base_url=real_server.base_url, concurrency=3)
    yield backend
    backend.close()


def test_streamed_answer_equals_non_streamed_and_local_greedy_decoding(real_server, served):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    params = GenParams(max_new_tokens=24, temperature=0.0)
    stats = GenStats()
    pieces = list(served.generate(PROMPT, params, stats=stats))
    streamed = "".join(pieces)

    plain = httpx.post(
        f"{real_server.base_url}/chat/completions",
        json={"model": real_server.model, "messages": PROMPT, "max_tokens": 24, "temperature": 0},
        timeout=60,
    ).json()
    tokenizer = AutoTokenizer.from_pretrained(real_server.model_dir)
    model = AutoModelForCausalLM.from_pretrained(real_server.model_dir)
    inputs = tokenizer.apply_chat_template(
        PROMPT, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    with torch.no_grad():
        output = model.generate(**inputs, max_new_tokens=24, do_sample=False)
    prompt_length = inputs["input_ids"].shape[1]
    local = tokenizer.decode(output[0, prompt_length:], skip_special_tokens=True)

    assert len(pieces) > 1, "the answer arrived in one piece: not streamed"
    assert streamed.strip(), "the tiny model should say something visible"
    assert streamed == plain["choices"][0]["message"]["content"] == local
    # Token counts are the server's own (its usage report), not estimates.
    assert stats.prompt_tokens == prompt_length == plain["usage"]["prompt_tokens"]
    assert stats.completion_tokens == plain["usage"]["completion_tokens"] == output.shape[1] - prompt_length
    assert stats.first_token_seconds is not None and stats.first_token_seconds > 0


def test_cancel_mid_stream_raises_cancelled_and_server_keeps_serving(served):
    cancel = threading.Event()
    stream = served.generate(PROMPT, GenParams(max_new_tokens=800), cancel=cancel)
    received = [next(stream) for _ in range(3)]
    cancel.set()
    with pytest.raises(Cancelled):
        received.extend(stream)
    assert len(received) < 800
    # A generator closed early, then a fresh request: the server and the client pool are still healthy.
    early = served.generate(PROMPT, GenParams(max_new_tokens=800))
    next(early)
    early.close()
    assert "".join(served.generate(PROMPT, GenParams(max_new_tokens=8))).strip()


def test_unknown_model_name_is_a_clear_error(real_server):
    backend = OpenAIBackend("no-such-model", base_url=real_server.base_url, max_retries=0)
    with pytest.raises(ModelError) as caught:
        list(backend.generate(PROMPT, GenParams(max_new_tokens=4)))
    message = str(caught.value)
    assert "does not serve a model named 'no-such-model'" in message
    assert real_server.model in message  # the server's own words name the model it does serve


def test_batch_on_real_server_keeps_input_order(served):
    conversations = [[{"role": "user", "content": f"Write function number {n}."}] for n in range(5)]
    params = GenParams(max_new_tokens=12)
    one_by_one = []
    for messages in conversations:
        stats = GenStats()
        one_by_one.append(("".join(served.generate(messages, params, stats=stats)), stats.completion_tokens))
    batch = served.generate_batch(conversations, params)
    assert [(text, stats.completion_tokens) for text, stats in batch] == one_by_one
    assert len({text for text, _ in one_by_one}) > 1, "alike answers would leave the order untested"


def test_unreachable_server_says_so():
    port = free_port()
    backend = OpenAIBackend("m", base_url=f"http://127.0.0.1:{port}/v1", max_retries=1, retry_base_delay=0.01)
    with pytest.raises(ModelError) as caught:
        list(backend.generate(PROMPT, GenParams(max_new_tokens=4)))
    assert f"cannot reach the server at http://127.0.0.1:{port}/v1" in str(caught.value)
    assert "is it running?" in str(caught.value)


# ----- the fake server, for faults -----


@dataclass
class Reply:
    """One scripted answer. ``events`` are SSE data payloads; ``end`` says how the stream ends:
    "close" (complete chunked body), "cut" (socket shut mid-body) or "hang" (kept open until the
    client goes away)."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)
    end: str = "close"
    before: Callable[[], None] | None = None  # runs before answering (a barrier, a delay)


def chunk(text: str | None = None, finish: str | None = None, usage: tuple[int, int] | None = None) -> str:
    payload: dict[str, Any] = {
        "object": "chat.completion.chunk",
        "choices": [
            {"index": 0, "delta": {"content": text} if text is not None else {}, "finish_reason": finish}
        ],
    }
    if usage is not None:
        payload["usage"] = {"prompt_tokens": usage[0], "completion_tokens": usage[1]}
    return json.dumps(payload)


def answer(*pieces: str, usage: tuple[int, int] | None = None) -> Reply:
    """A well-formed stream the way vLLM sends it: role, pieces, finish, usage, [DONE]."""
    events = [json.dumps({"choices": [{"index": 0, "delta": {"role": "assistant"}}]})]
    events += [chunk(piece) for piece in pieces] + [chunk(finish="stop")]
    if usage is not None:
        events.append(
            json.dumps({"choices": [], "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1]}})
        )
    return Reply(events=events + ["[DONE]"])


class FakeServer:
    def __init__(self) -> None:
        self.script: list[Reply] | Callable[[dict], Reply] = []
        self.models: list[str] | None = None  # GET /v1/models; None answers 404
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.request_seen = threading.Event()
        self.disconnected = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def backend(self, **options: Any) -> OpenAIBackend:
        return OpenAIBackend("test-model", base_url=self.base_url, retry_base_delay=0.01, **options)

    def next_reply(self, body: dict) -> Reply:
        with self._lock:
            if callable(self.script):
                return self.script(body)
            return self.script.pop(0)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                for key, value in {"Content-Type": "application/json", **(headers or {})}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path == "/v1/models" and fake.models is not None:
                    self.send_json(200, {"object": "list", "data": [{"id": name} for name in fake.models]})
                else:
                    self.send_json(404, {"detail": "Not Found"})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake._lock:
                    fake.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                fake.request_seen.set()
                try:
                    self.answer(fake.next_reply(body))
                finally:
                    with fake._lock:
                        fake.in_flight -= 1

            def answer(self, reply: Reply) -> None:
                if reply.before is not None:
                    reply.before()
                if reply.status != 200:
                    self.send_json(reply.status, reply.body, reply.headers)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for event in reply.events:
                    data = f"data: {event}\n\n".encode()
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                    self.wfile.flush()
                if reply.end == "close":
                    self.wfile.write(b"0\r\n\r\n")
                    return
                self.close_connection = True
                if reply.end == "hang":
                    self.connection.settimeout(30)
                    try:
                        while self.connection.recv(1024):
                            pass
                    except OSError:
                        pass
                    fake.disconnected.set()
                self.connection.shutdown(socket.SHUT_RDWR)

        return Handler


@pytest.fixture
def fake():
    server = FakeServer()
    yield server
    server.close()


def test_request_asks_for_greedy_streaming_with_usage(fake):
    fake.script = [answer("ok"), answer("ok")]
    backend = fake.backend(api_key="sk-test-key")
    list(backend.generate(PROMPT, GenParams(max_new_tokens=77, seed=5)))
    list(backend.generate(PROMPT, GenParams(max_new_tokens=9, temperature=0.7, top_p=0.9, top_k=20)))
    greedy, sampled = (request["body"] for request in fake.requests)
    assert fake.requests[0]["path"] == "/v1/chat/completions"
    assert greedy == {
        "model": "test-model",
        "messages": PROMPT,
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": 77,
        "temperature": 0.0,
        "seed": 5,
    }
    assert (sampled["temperature"], sampled["top_p"], sampled["top_k"], sampled["max_tokens"]) == (
        0.7,
        0.9,
        20,
        9,
    )
    assert fake.requests[0]["headers"]["Authorization"] == "Bearer sk-test-key"


def test_no_key_sends_no_authorization_header(fake, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    fake.script = [answer("ok")]
    list(fake.backend().generate(PROMPT, GenParams()))
    assert "Authorization" not in fake.requests[0]["headers"]


def test_usage_report_fills_stats(fake):
    fake.script = [answer("def ", "f", "():", usage=(31, 7))]
    stats = GenStats()
    assert "".join(fake.backend().generate(PROMPT, GenParams(), stats=stats)) == "def f():"
    assert (stats.prompt_tokens, stats.completion_tokens) == (31, 7)


def test_without_usage_report_chunks_are_counted(fake):
    fake.script = [answer("a", "b", "c")]
    stats = GenStats()
    assert "".join(fake.backend().generate(PROMPT, GenParams(), stats=stats)) == "abc"
    assert stats.completion_tokens == 3
    assert stats.prompt_tokens > 0  # estimated from the prompt's length


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_busy_server_is_retried_until_it_answers(fake, status):
    busy = Reply(status=status, body={"error": {"message": "busy"}}, headers={"Retry-After": "0"})
    fake.script = [busy, busy, answer("fine")]
    assert "".join(fake.backend(max_retries=3).generate(PROMPT, GenParams())) == "fine"
    assert len(fake.requests) == 3


def test_retries_give_up_with_the_servers_message(fake, caplog):
    fake.script = lambda body: Reply(status=503, body={"error": {"message": "engine overloaded"}})
    backend = fake.backend(max_retries=2, api_key="sk-never-shown")
    with pytest.raises(ModelError) as caught:
        list(backend.generate(PROMPT, GenParams()))
    assert "HTTP 503" in str(caught.value) and "engine overloaded" in str(caught.value)
    assert "3 tries" in str(caught.value)
    assert len(fake.requests) == 3
    assert "retrying" in caplog.text and "sk-never-shown" not in caplog.text


def test_retry_after_header_forms():
    assert _retry_after_seconds("2.5") == 2.5
    assert _retry_after_seconds(None) is None
    assert _retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past: now
    assert _retry_after_seconds("soon") is None
    backend = OpenAIBackend("m", base_url="http://127.0.0.1:9/v1")
    assert backend._retry_delay(0, 3.0) == 3.0  # the server's word wins over back-off
    assert 0.5 <= backend._retry_delay(0, None) <= 0.75  # base delay plus up to 50 % jitter
    assert 2.0 <= backend._retry_delay(2, None) <= 3.0


@pytest.mark.parametrize("end", ["cut", "close"])
def test_connection_dropped_mid_stream_is_reported_not_retried(fake, end):
    # "cut": the socket closes inside the chunked body; "close": the body ends cleanly but without
    # a finish_reason or [DONE], so the answer is incomplete all the same.
    fake.script = [Reply(events=[chunk("one "), chunk("two ")], end=end), answer("never")]
    received: list[str] = []
    with pytest.raises(ModelError) as caught:
        received.extend(fake.backend().generate(PROMPT, GenParams()))
    assert received == ["one ", "two "]
    assert "dropped after 2 tokens" in str(caught.value)
    assert len(fake.requests) == 1, "a retry would repeat text the caller already has"


def test_done_without_finish_reason_is_a_truncated_answer(fake):
    # llama-cpp-python's server ends a running stream this way when a second request arrives.
    fake.script = [Reply(events=[chunk("half "), chunk("an answer"), "[DONE]"])]
    with pytest.raises(ModelError, match="ended the answer after 2 tokens without a finish reason"):
        list(fake.backend().generate(PROMPT, GenParams()))
    assert len(fake.requests) == 1


def test_connection_dropped_before_first_token_is_retried(fake):
    role_only = json.dumps({"choices": [{"index": 0, "delta": {"role": "assistant"}}]})
    fake.script = [Reply(events=[role_only], end="cut"), answer("second try")]
    assert "".join(fake.backend().generate(PROMPT, GenParams())) == "second try"
    assert len(fake.requests) == 2


def test_error_event_mid_stream_is_a_model_error(fake):
    error = json.dumps({"error": {"message": "CUDA out of memory", "code": 500}})
    fake.script = [Reply(events=[chunk("x"), error])]
    with pytest.raises(ModelError, match="reported an error after 1 tokens: CUDA out of memory"):
        list(fake.backend().generate(PROMPT, GenParams()))


def test_rejected_key_names_the_variable_and_never_shows_the_key(fake, monkeypatch):
    monkeypatch.setenv("PATCHLOOP_TEST_KEY", "sk-secret-123")
    # A careless server that echoes the key back in its error.
    fake.script = [Reply(status=401, body={"error": {"message": "invalid key sk-secret-123"}})]
    backend = fake.backend(api_key_env="PATCHLOOP_TEST_KEY")
    with pytest.raises(ModelError) as caught:
        list(backend.generate(PROMPT, GenParams()))
    message = str(caught.value)
    assert "HTTP 401" in message and "$PATCHLOOP_TEST_KEY" in message
    assert "sk-secret-123" not in message and "invalid key ***" in message
    assert fake.requests[0]["headers"]["Authorization"] == "Bearer sk-secret-123"
    assert "sk-secret-123" not in repr(backend) + repr(backend.info)


def test_server_error_carries_the_servers_message(fake):
    fake.script = [Reply(status=500, body={"detail": "tokenizer exploded"})]
    with pytest.raises(ModelError, match="HTTP 500: tokenizer exploded"):
        list(fake.backend().generate(PROMPT, GenParams()))
    assert len(fake.requests) == 1  # 500 is not worth a retry


def test_unknown_model_lists_what_the_server_serves(fake):
    fake.models = ["qwen2.5-coder:7b", "llama3"]
    fake.script = [
        Reply(status=404, body={"error": {"message": 'model "test-model" not found, try pulling it first'}})
    ]
    with pytest.raises(ModelError) as caught:
        list(fake.backend().generate(PROMPT, GenParams()))
    assert "does not serve a model named 'test-model'" in str(caught.value)
    assert "it serves: qwen2.5-coder:7b, llama3" in str(caught.value)
    assert fake.backend().served_models() == ["qwen2.5-coder:7b", "llama3"]


def test_404_without_models_points_at_the_base_url(fake):
    fake.script = [Reply(status=404, body={"detail": "Not Found"})]
    with pytest.raises(ModelError, match="does base_url end with /v1"):
        list(fake.backend().generate(PROMPT, GenParams()))


def cancelled_once_requested(fake, call) -> tuple[threading.Thread, list[BaseException]]:
    """Run ``call(cancel)`` in a thread, set ``cancel`` once the server has a request and give the thread
    10 s to end: the thread and what it raised (a Cancelled or a ModelError), for the caller's checks."""
    cancel = threading.Event()
    outcome: list[BaseException] = []

    def consume() -> None:
        try:
            call(cancel)
        except (Cancelled, ModelError) as exc:
            outcome.append(exc)

    thread = threading.Thread(target=consume)
    thread.start()
    assert fake.request_seen.wait(10)
    cancel.set()
    thread.join(10)
    return thread, outcome


def test_cancel_while_waiting_for_the_first_token_returns_and_disconnects(fake):
    fake.script = [Reply(events=[], end="hang")]
    thread, outcome = cancelled_once_requested(
        fake, lambda cancel: list(fake.backend(timeout=60).generate(PROMPT, GenParams(), cancel=cancel))
    )
    assert not thread.is_alive(), "cancel did not stop a request waiting on a silent server"
    assert len(outcome) == 1 and isinstance(outcome[0], Cancelled)
    assert fake.disconnected.wait(10), "the server never saw the client leave"


def test_closing_the_generator_closes_the_response(fake):
    fake.script = [Reply(events=[chunk("first")], end="hang")]
    stream = fake.backend(timeout=60).generate(PROMPT, GenParams())
    assert next(stream) == "first"
    stream.close()
    assert fake.disconnected.wait(10), "the HTTP response stayed open after the generator was closed"


def test_batch_runs_concurrently_and_returns_input_order(fake):
    concurrency = 3
    everyone_in = threading.Barrier(concurrency, timeout=10)
    # The first `concurrency` requests wait until all of them are in flight (a client that sent them
    # one at a time would break the barrier), then finish in reverse order.

    def script(body: dict) -> Reply:
        index = int(body["messages"][0]["content"])

        def before() -> None:
            if index < concurrency:
                everyone_in.wait()
                time.sleep(0.05 * (concurrency - index))

        return Reply(events=answer(f"answer {index}").events, before=before)

    fake.script = script
    conversations = [[{"role": "user", "content": str(n)}] for n in range(7)]
    results = fake.backend(concurrency=concurrency).generate_batch(conversations, GenParams())
    assert [text for text, _ in results] == [f"answer {n}" for n in range(7)]
    assert fake.max_in_flight == concurrency


def failing_second(body: dict) -> Reply:
    if body["messages"][0]["content"] == "1":
        return Reply(status=400, body={"error": {"message": "prompt too long"}})
    return answer("fine")


def test_batch_failure_names_the_request(fake):
    fake.script = failing_second
    conversations = [[{"role": "user", "content": str(n)}] for n in range(3)]
    with pytest.raises(ModelError, match=r"request 2 of 3 failed: .*prompt too long"):
        fake.backend(concurrency=1).generate_batch(conversations, GenParams())


def test_batch_can_return_errors_in_place(fake):
    fake.script = failing_second
    conversations = [[{"role": "user", "content": str(n)}] for n in range(4)]
    results = fake.backend(concurrency=2).generate_batch(conversations, GenParams(), errors="return")
    assert isinstance(results[1], ModelError) and "prompt too long" in str(results[1])
    assert [result[0] for i, result in enumerate(results) if i != 1] == ["fine"] * 3


def test_batch_cancel_raises_cancelled(fake):
    fake.script = lambda body: Reply(events=[], end="hang")
    backend = fake.backend(concurrency=2, timeout=60)
    thread, outcome = cancelled_once_requested(
        fake, lambda cancel: backend.generate_batch([PROMPT] * 4, GenParams(), cancel)
    )
    assert not thread.is_alive() and len(outcome) == 1 and isinstance(outcome[0], Cancelled)
    assert len(fake.requests) <= 2, "requests not yet started must not be sent after a cancel"


# ----- construction -----


def test_base_url_comes_from_option_then_environment_then_default(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert OpenAIBackend("m").base_url == DEFAULT_BASE_URL == "http://127.0.0.1:8000/v1"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://gpu-box:8000/v1/")
    assert OpenAIBackend("m").base_url == "http://gpu-box:8000/v1"
    assert OpenAIBackend("m", base_url="http://other:1/v1").base_url == "http://other:1/v1"


def test_load_backend_builds_it_and_records_server_and_model():
    backend = load_backend(
        "openai:Qwen/Qwen2.5-Coder-7B-Instruct", base_url="http://h:8000/v1", device="cuda"
    )
    assert isinstance(backend, OpenAIBackend)
    info = backend.info
    assert (info.backend, info.model, info.device, info.server) == (
        "openai",
        "Qwen/Qwen2.5-Coder-7B-Instruct",
        "server",
        "http://h:8000/v1",
    )


def test_cancel_set_before_start_sends_nothing(fake):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        list(fake.backend().generate(PROMPT, GenParams(), cancel=cancel))
    assert fake.requests == []


def test_an_adapter_for_a_served_model_is_refused_with_the_way_to_serve_it():
    with pytest.raises(ModelError, match="--lora-modules"):
        load_backend("openai:m", base_url="http://127.0.0.1:9/v1", adapter="runs/dpo-adapter")
