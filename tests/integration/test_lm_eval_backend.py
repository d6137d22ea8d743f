"""The lm-evaluation-harness backend against the OpenAI-compatible test server (no network needed)."""

from __future__ import annotations

import itertools
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from evalhub.models import BackendType, JobRecord, LmEvalBackendConfig, ModelType
from evalhub.services.scoring import unscorable_reason
from evalhub_runner.backends.base import BackendError, BackendResult, ResolvedModel
from evalhub_runner.backends.lm_eval import LmEvalBackend, headline_metrics, lm_spec
from tests.support.direct import direct
from tests.support.model_server import ModelServer

ROOT = Path(__file__).resolve().parents[2]
TASKS = ROOT / "tests" / "support" / "tasks"
MODEL = "evalhub-test"
SEED = 1234


def gen_answers() -> dict[str, str]:
    """The server knows 14 of the 20 generation questions, and gets a third of those wrong."""
    rows = [json.loads(line) for line in (TASKS / "evalhub_gen.jsonl").read_text().splitlines()]
    return {
        row["question"]: f"The answer is {row['answer'] if i % 3 else 'wrong'}."
        for i, row in enumerate(rows[:14])
    }


def make_job(tasks: list[str], **fields: Any) -> JobRecord:
    now = datetime.now(UTC)
    fields.setdefault("custom_task", {"include_path": str(TASKS)})
    return JobRecord(
        job_id="job-1",
        request_id="req-1",
        index=0,
        evaluation_name="eval",
        model_name=MODEL,
        backend_name="lm-eval",
        backend_type=BackendType.LM_EVAL,
        benchmark_name="bench",
        tasks=tasks,
        timeout_minutes=10,
        max_attempts=1,
        created_at=now,
        updated_at=now,
        **fields,
    )


def vllm(base_url: str, **fields: Any) -> ResolvedModel:
    return ResolvedModel(name=MODEL, model_type=ModelType.VLLM, base_url=base_url, **fields)


def run(job: JobRecord, model: ResolvedModel, workdir: Path) -> tuple[BackendResult, list[float]]:
    seen: list[float] = []
    return LmEvalBackend().run(job, model, seen.append, workdir), seen


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Any:
    with ModelServer(answers=gen_answers()) as srv:
        yield srv


@pytest.fixture(scope="module")
def both(server: ModelServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[BackendResult, list[float]]:
    """The backend's run of both test tasks (one multiple-choice, one generation) on a vLLM model."""
    return run(make_job(["evalhub_mc", "evalhub_gen"]), vllm(server.base_url), tmp_path_factory.mktemp("wd"))


def mc_args(base: str) -> str:
    return (
        f"model={MODEL},base_url={base}/completions,tokenizer_backend=remote,"
        "num_concurrent=8,max_retries=3,timeout=300,seed=1234,batch_size=1"
    )


def chat_args(base: str) -> str:
    return f"model={MODEL},base_url={base}/chat/completions,num_concurrent=8,max_retries=3,timeout=300,seed=1234,batch_size=1"


# ---------------------------------------------------------------- scores and documents


@pytest.mark.slow
def test_scores_equal_a_direct_simple_evaluate_run(
    server: ModelServer, both: tuple[BackendResult, list[float]]
) -> None:
    # Given the backend's run of both tasks against the test server
    result, _ = both
    # When lm-eval runs the same tasks directly, with the model_args strings the backend used
    mc = direct("local-completions", mc_args(server.base_url), ["evalhub_mc"], chat=False)
    gen = direct("local-chat-completions", chat_args(server.base_url), ["evalhub_gen"], chat=True)
    # Then the metrics are exactly lm-eval's, prefixed per task, without stderrs or the ",none" filter
    expected = {
        "evalhub_mc/acc": mc["results"]["evalhub_mc"]["acc,none"],
        "evalhub_mc/acc_norm": mc["results"]["evalhub_mc"]["acc_norm,none"],
        "evalhub_gen/exact_match,strict-match": gen["results"]["evalhub_gen"]["exact_match,strict-match"],
    }
    assert result.metrics == expected
    # and they are informative: some answers right, some wrong
    assert all(0 < v < 1 for v in expected.values())
    assert result.metrics["evalhub_gen/exact_match,strict-match"] == 0.45
    # and the full result rows match too
    rows = result.documents["results"]["results"]
    assert rows["evalhub_mc"] == json.loads(json.dumps(mc["results"]["evalhub_mc"]))
    assert rows["evalhub_gen"] == json.loads(json.dumps(gen["results"]["evalhub_gen"]))


@pytest.mark.slow
def test_fewshot_limit_and_generation_settings_pass_through(server: ModelServer, tmp_path: Path) -> None:
    # Given a single generation task with few-shot examples, a limit and a max_tokens setting
    job = make_job(
        ["evalhub_gen"],
        benchmark_config={"limit": 10, "num_fewshot": 2},
        model_configuration={"max_tokens": 12, "temperature": 0},
    )
    # When the backend runs it, and lm-eval runs it directly with the same arguments
    result, _ = run(job, vllm(server.base_url), tmp_path)
    gen = direct(
        "local-chat-completions",
        chat_args(server.base_url),
        ["evalhub_gen"],
        chat=True,
        limit=10,
        num_fewshot=2,
        gen_kwargs={"max_gen_toks": 12, "temperature": 0},
    )
    # Then a single task's metrics keep bare names (a real filter stays in the name) and equal lm-eval's
    assert result.metrics == {
        "exact_match,strict-match": gen["results"]["evalhub_gen"]["exact_match,strict-match"]
    }
    doc = result.documents["results"]
    assert doc["n-shot"] == {"evalhub_gen": 2}
    assert doc["config"]["limit"] == 10
    assert doc["configs"]["evalhub_gen"]["generation_kwargs"]["max_gen_toks"] == 12
    assert len(result.samples["evalhub_gen"]) == 10


@pytest.mark.slow
def test_progress_rises_monotonically_to_one(both: tuple[BackendResult, list[float]]) -> None:
    # Given the progress the backend reported while scoring 80 loglikelihood and 20 generation requests
    _, seen = both
    # Then it starts at 0, only rises, ends at exactly 1, and moved with the requests
    assert seen[0] == 0.0
    assert seen[-1] == 1.0
    assert all(a < b for a, b in itertools.pairwise(seen))
    assert len(seen) > 50


@pytest.mark.slow
def test_documents_are_json_and_record_how_lm_eval_ran(
    server: ModelServer, both: tuple[BackendResult, list[float]]
) -> None:
    # Given the backend's result documents
    result, _ = both
    doc = json.loads(json.dumps(result.documents, allow_nan=False))["results"]
    samples = json.loads(json.dumps(result.samples, allow_nan=False))
    # Then they name the lm-eval version, task versions, shots, seeds and the exact model_args strings
    assert doc["lm_eval_version"] == "0.4.13"
    assert doc["versions"] == {"evalhub_mc": 1.0, "evalhub_gen": 1.0}
    assert doc["n-shot"] == {"evalhub_mc": 0, "evalhub_gen": 0}
    assert doc["config"]["model"] == "local-completions"
    assert doc["config"]["model_args"] == mc_args(server.base_url)
    assert doc["config"]["random_seed"] == doc["config"]["fewshot_seed"] == SEED
    runs = doc["evalhub"]["runs"]
    assert [(r["model"], r["model_args"], r["apply_chat_template"], r["tasks"]) for r in runs] == [
        ("local-completions", mc_args(server.base_url), False, ["evalhub_mc"]),
        ("local-chat-completions", chat_args(server.base_url), True, ["evalhub_gen"]),
    ]
    assert "git_hash" in doc
    assert "samples" not in doc
    # and the samples log every document of each task
    assert {task: len(rows) for task, rows in samples.items()} == {"evalhub_mc": 20, "evalhub_gen": 20}
    assert samples["evalhub_gen"][0]["filter"] == "strict-match"


@pytest.mark.slow
def test_inline_custom_task_reads_data_relative_to_include_path(
    both: tuple[BackendResult, list[float]], server: ModelServer, tmp_path: Path
) -> None:
    # Given an inline task YAML (a copy of evalhub_mc under another name) with a relative data file
    text = (TASKS / "evalhub_mc.yaml").read_text().replace("task: evalhub_mc", "task: my_mc")
    job = make_job(["my_mc"], custom_task={"yaml": text, "include_path": str(TASKS)})
    # When the backend runs it (from a working directory where the data file is not)
    result, _ = run(job, vllm(server.base_url), tmp_path)
    # Then the data file was found next to the include_path and the scores equal evalhub_mc's
    assert (tmp_path / "tasks" / "my_mc.yaml").read_text() == text
    assert result.metrics == {
        "acc": both[0].metrics["evalhub_mc/acc"],
        "acc_norm": both[0].metrics["evalhub_mc/acc_norm"],
    }


@pytest.mark.slow
def test_group_with_an_aggregate_reports_bare_names(server: ModelServer, tmp_path: Path) -> None:
    # Given a group of both tasks that aggregates acc
    group = "group: evalhub_pair\ntask: [evalhub_mc, evalhub_gen]\naggregate_metric_list:\n  - metric: acc\n"
    job = make_job(
        ["evalhub_pair"],
        custom_task={"yaml": group, "include_path": str(TASKS)},
        benchmark_config={"limit": 4},
    )
    # When the backend runs it
    result, seen = run(job, vllm(server.base_url), tmp_path)
    # Then the group's aggregate row is the headline, and its subtasks' rows are in the document
    assert list(result.metrics) == ["acc"]
    assert {"evalhub_mc", "evalhub_gen", "evalhub_pair"} <= set(result.documents["results"]["results"])
    assert seen[-1] == 1.0
    assert (tmp_path / "tasks" / "evalhub_pair.yaml").is_file()


# ---------------------------------------------------------------- concurrency and the API key


@pytest.mark.slow
@pytest.mark.parametrize("parallelism", [1, 4])
def test_parallelism_sets_how_many_requests_overlap(parallelism: int, tmp_path: Path) -> None:
    # Given a slow server
    with ModelServer(latency=0.03) as slow:
        job = make_job(
            ["evalhub_mc"], benchmark_config={"limit": 6}, backend_config={"parallelism": parallelism}
        )
        # When the backend scores 24 choices on it
        run(job, vllm(slow.base_url), tmp_path)
        # Then exactly `parallelism` requests were in flight at once
        assert slow.counts["/v1/completions"] == 24 + 1  # and one preflight request
        assert slow.max_in_flight == parallelism


@pytest.mark.slow
def test_api_key_reaches_the_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a server that wants a key, and a model that has it
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with ModelServer(api_key="s3cret") as locked:
        job = make_job(["evalhub_mc", "evalhub_gen"], benchmark_config={"limit": 2})
        # When the backend runs
        result, _ = run(job, vllm(locked.base_url, api_key="s3cret"), tmp_path)
    # Then both tasks were scored, the key is in no document, and the environment is as it was
    assert set(result.metrics) == {
        "evalhub_mc/acc",
        "evalhub_mc/acc_norm",
        "evalhub_gen/exact_match,strict-match",
    }
    assert "s3cret" not in json.dumps(result.documents)
    assert "OPENAI_API_KEY" not in os.environ


# ---------------------------------------------------------------- errors


@pytest.mark.slow
@pytest.mark.parametrize("task", ["evalhub_mc", "evalhub_gen"])
@pytest.mark.parametrize("preflight", [True, False])
def test_connection_refused_fails_fast(task: str, preflight: bool, tmp_path: Path) -> None:
    # Given a model whose server is not running
    base = f"http://127.0.0.1:{free_port()}/v1"
    job = make_job([task], backend_config={"preflight": preflight, "max_retries": 5})
    # When the backend runs, Then it fails within seconds, saying why
    started = time.monotonic()
    with pytest.raises(
        BackendError, match=r"Could not reach the model endpoint at .*connection refused\. Is the server"
    ):
        run(job, vllm(base), tmp_path)
    assert time.monotonic() - started < 15


@pytest.mark.slow
@pytest.mark.parametrize("preflight", [True, False])
def test_wrong_api_key_is_a_clear_401(preflight: bool, tmp_path: Path) -> None:
    # Given a server whose key the model does not have
    with ModelServer(api_key="s3cret") as locked:
        job = make_job(["evalhub_gen"], backend_config={"preflight": preflight, "max_retries": 5})
        # When the backend runs, Then it fails at once (no retries) saying the key was rejected
        with pytest.raises(BackendError, match=r"rejected the API key \(401\)"):
            run(job, vllm(locked.base_url, api_key="wrong"), tmp_path)
        # (retrying would send each of the 20 requests 5 times; failing fast leaves the first waves)
        assert locked.counts["/v1/chat/completions"] <= 16


@pytest.mark.slow
def test_unknown_model_is_a_clear_404(server: ModelServer, tmp_path: Path) -> None:
    # Given a model name the server does not serve
    model = ResolvedModel(
        name="no-such-model", model_type=ModelType.OPENAI_COMPATIBLE, base_url=server.base_url
    )
    # When the backend runs, Then it says the model was not found
    with pytest.raises(BackendError, match=r"answered 404: model 'no-such-model' not found.*does not exist"):
        run(make_job(["evalhub_gen"]), model, tmp_path)


@pytest.mark.slow
def test_endpoint_without_prompt_logprobs_cannot_score_loglikelihood(tmp_path: Path) -> None:
    # Given a server that never returns logprobs
    with ModelServer(logprobs=False) as plain:
        # When the backend runs a multiple-choice task, Then it says why it cannot score it
        with pytest.raises(
            BackendError,
            match=r"cannot score loglikelihood tasks: it returned no prompt logprobs \(echo=True\)",
        ):
            run(make_job(["evalhub_mc"]), vllm(plain.base_url), tmp_path)
        assert plain.counts["/v1/completions"] == 1


@pytest.mark.slow
def test_unscorable_model_fails_before_any_request(server: ModelServer, tmp_path: Path) -> None:
    # Given an Ollama model (chat only, no prompt logprobs) and a multiple-choice task
    model = ResolvedModel(name=MODEL, model_type=ModelType.OLLAMA, base_url=server.base_url)
    server.reset_counters()
    # When the backend runs, Then it refuses without calling the model
    with pytest.raises(BackendError, match=r"cannot run evalhub_mc: 'multiple_choice' benchmarks .*Ollama"):
        run(make_job(["evalhub_mc"]), model, tmp_path)
    assert server.requests == 0


@pytest.mark.slow
def test_unknown_task_names_a_close_match(server: ModelServer, tmp_path: Path) -> None:
    # Given a misspelt task name (lm-eval's built-in tasks are searched too)
    with pytest.raises(
        BackendError, match=r"Unknown lm-evaluation-harness task 'evalhub_mcq'\. Did you mean 'evalhub_mc'"
    ):
        run(make_job(["evalhub_mcq"]), vllm(server.base_url), tmp_path)


@pytest.mark.slow
def test_unreachable_hub_dataset_suggests_local_data(
    server: ModelServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a custom group of a built-in task, whose dataset is on the Hub, and no Hub
    # (offline mode, so that the test does not wait for the Hub's retries)
    import datasets
    import huggingface_hub

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    job = make_job(["hub_group"], custom_task={"yaml": "group: hub_group\ntask: [arc_easy]\n"})
    # When the backend runs it, Then it found arc_easy among lm-eval's tasks, and says the Hub is
    # unreachable and how to use local data instead
    with pytest.raises(
        BackendError, match=r"task 'hub_group': the Hugging Face Hub is unreachable.*dataset_path: json"
    ):
        run(job, vllm(server.base_url), tmp_path)


@pytest.mark.slow
def test_missing_local_data_file_is_named(server: ModelServer, tmp_path: Path) -> None:
    text = (TASKS / "evalhub_gen.yaml").read_text().replace("task: evalhub_gen", "task: lost_gen")
    text = text.replace("test: evalhub_gen.jsonl", "test: missing.jsonl")
    job = make_job(["lost_gen"], custom_task={"yaml": text, "include_path": str(TASKS)})
    with pytest.raises(
        BackendError, match=r"Could not load the data of task 'lost_gen'.*relative to .*include_path"
    ):
        run(job, vllm(server.base_url), tmp_path)


@pytest.mark.slow
def test_huggingface_model_needs_the_gpu_image(tmp_path: Path) -> None:
    # Given a huggingface model on a runner without torch
    model = ResolvedModel(name="EleutherAI/pythia-14m", model_type=ModelType.HUGGINGFACE, base_url=None)
    # When the backend runs, Then it says what is missing
    with pytest.raises(BackendError, match=r"'hf' model cannot be loaded.*torch"):
        run(make_job(["evalhub_mc"]), model, tmp_path)


# ---------------------------------------------------------------- pure logic


@pytest.mark.parametrize(
    ("output_type", "model_type", "logprobs", "refused"),
    [
        ("multiple_choice", ModelType.OLLAMA, None, True),
        ("multiple_choice", ModelType.OLLAMA, True, False),
        ("loglikelihood", ModelType.OPENAI, None, True),
        ("loglikelihood_rolling", ModelType.VLLM, False, True),
        ("multiple_choice", ModelType.VLLM, None, False),
        ("multiple_choice", ModelType.OPENAI_COMPATIBLE, True, False),
        ("multiple_choice", ModelType.HUGGINGFACE, False, False),
        ("generate_until", ModelType.OLLAMA, False, False),
        (None, ModelType.OLLAMA, False, False),
    ],
)
def test_unscorable_reason(
    output_type: str | None, model_type: ModelType, logprobs: bool | None, refused: bool
) -> None:
    reason = unscorable_reason(output_type, model_type, logprobs)
    assert (reason is not None) == refused
    if reason:
        assert "logprobs" in reason


def spec_args(model: ResolvedModel, scores: bool, **config: Any) -> tuple[str, str, dict[str, Any]]:
    spec = lm_spec(model, LmEvalBackendConfig.model_validate(config), scores=scores)
    return spec.model, spec.model_args, spec.extra


def test_model_args_strings_per_model_type() -> None:
    base = "http://gpu:8000/v1"
    common = "num_concurrent=8,max_retries=3,timeout=300,seed=1234,batch_size=1"
    # vLLM / OpenAI-compatible: remote tokenizer for scoring, chat for generation
    assert spec_args(vllm(base), True) == (
        "local-completions",
        f"model={MODEL},base_url={base}/completions,tokenizer_backend=remote,{common}",
        {},
    )
    assert spec_args(vllm(base), False)[:2] == (
        "local-chat-completions",
        f"model={MODEL},base_url={base}/chat/completions,{common}",
    )
    # a named tokenizer (model's or backend's) is loaded with transformers
    assert spec_args(vllm(base, tokenizer="org/tok"), True, parallelism=2, batch_size=4)[1] == (
        f"model={MODEL},base_url={base}/completions,tokenizer_backend=huggingface,tokenizer=org/tok,"
        "num_concurrent=2,max_retries=3,timeout=300,seed=1234,batch_size=4"
    )
    # a bare server root gets /v1; an endpoint URL is cut back to its base
    assert f"base_url={base}/completions," in spec_args(vllm("http://gpu:8000"), True)[1]
    assert f"base_url={base}/completions," in spec_args(vllm(f"{base}/chat/completions/"), True)[1]
    # OpenAI: its API and tiktoken
    openai = ResolvedModel(name="gpt-4o-mini", model_type=ModelType.OPENAI, base_url=None)
    assert (
        "base_url=https://api.openai.com/v1/completions,tokenizer_backend=tiktoken,"
        in spec_args(openai, True)[1]
    )
    # plain generation on completions (chat template off) needs no tokenizer
    assert 'tokenizer_backend="none",' in spec_args(vllm(base), False, apply_chat_template=False)[1]
    # huggingface: lm-eval's hf model
    hf = ResolvedModel(name="EleutherAI/pythia-14m", model_type=ModelType.HUGGINGFACE, base_url=None)
    assert spec_args(hf, True, device="cuda:0") == (
        "hf",
        "pretrained=EleutherAI/pythia-14m,device=cuda:0,batch_size=1",
        {},
    )


def test_model_args_string_values_lm_eval_would_mangle() -> None:
    # Given values lm-eval's parser would coerce (a number, "none") or split (a comma), and a secret
    model = ResolvedModel(name="1234", model_type=ModelType.VLLM, base_url="http://h:1/v1", api_key="k")
    _, args, extra = spec_args(model, True, model_args={"revision": "none", "header_note": "a,b"})
    # Then they are quoted or kept out of the string; the key only reaches the remote tokenizer
    assert args.startswith('model="1234",') and ',revision="none"' in args
    assert extra == {"header_note": "a,b", "auth_token": "k"}
    from lm_eval.utils import simple_parse_args_string

    parsed = simple_parse_args_string(args)
    assert parsed["model"] == "1234" and parsed["revision"] == "none"


def test_headline_metrics_naming() -> None:
    results = {
        "a": {"alias": "a", "sample_len": 3, "acc,none": 0.5, "acc_stderr,none": 0.1, "em,strict": 1.0},
        "b": {"alias": "b", "acc,none": 0.25, "acc_stderr,none": "N/A"},
        "g": {"alias": "g", "acc,none": 0.4, "acc_stderr,none": 0.2},
        "t": {"alias": "t"},
    }
    assert headline_metrics(results, {"a": [["a"]]}) == {"acc": 0.5, "em,strict": 1.0}
    assert headline_metrics(results, {"g": [["g", "a", "b"]]}) == {"acc": 0.4}
    assert headline_metrics(results, {"t": [["t", "a", "b"]]}) == {
        "a/acc": 0.5,
        "a/em,strict": 1.0,
        "b/acc": 0.25,
    }
    assert headline_metrics(results, {"a": [["a"]], "b": [["b"]]}) == {
        "a/acc": 0.5,
        "a/em,strict": 1.0,
        "b/acc": 0.25,
    }


# ---------------------------------------------------------------- the test server itself


def test_server_runs_as_a_module() -> None:
    # Given the server started the way e2e tests start it
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.model_server", "--port", str(port), "--model", "m1"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        # Then it says where it serves, and serves the model list
        assert proc.stdout.readline().strip() == f"READY http://127.0.0.1:{port}/v1"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=5) as response:
            assert json.load(response)["data"][0]["id"] == "m1"
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
