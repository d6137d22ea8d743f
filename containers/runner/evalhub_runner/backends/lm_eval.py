"""The lm-evaluation-harness backend: runs a job's tasks with lm-eval's Python API (``simple_evaluate``).

Models
    ``openai``, ``openai-compatible``, ``vllm`` and ``ollama`` are reached over their OpenAI-style API:
    tasks scored by loglikelihood (``multiple_choice``, ``loglikelihood``, ``loglikelihood_rolling``)
    run on lm-eval's ``local-completions`` at ``<base>/completions`` (they need ``echo`` + ``logprobs``
    and a tokenizer: vLLM's ``/tokenize`` by default, ``tokenizer_backend=remote``; a named
    tokenizer (the model's or ``backend_config.tokenizer``) uses ``tokenizer_backend=huggingface``);
    generation tasks run on ``local-chat-completions`` at ``<base>/chat/completions`` with the
    chat template applied (``backend_config.apply_chat_template: false`` sends them to
    ``/completions`` instead). A job with both kinds makes one ``simple_evaluate`` call per kind.
    ``huggingface`` models run on lm-eval's ``hf`` model (``pretrained=<name>``) in this process.

    The model's ``base_url`` is an OpenAI-style base such as ``http://host:8000/v1``; a bare server
    root (``http://host:8000``) gets ``/v1`` appended, and a trailing ``/completions`` or
    ``/chat/completions`` is dropped. Other paths are kept as given (``.../v1beta/openai`` works).

    The API key goes to lm-eval the way lm-eval reads it, through ``OPENAI_API_KEY`` in this process's
    environment (set for the duration of the run: the runner is one process per job), and to the
    remote tokenizer as ``auth_token``. Neither appears in the recorded ``model_args`` string.

    ``model_args`` are handed to lm-eval as a string (``key=value,...``). lm-eval 0.4.13 cannot escape
    a comma inside a value, so such values (and non-scalar ones) travel beside the string, through
    ``create_from_arg_string``'s ``additional_config``; values lm-eval would coerce ("1e3", "none")
    are quoted. ``backend_config.model_args`` (a dict) adds or overrides arguments.

Custom tasks
    ``custom_task.yaml`` is written to ``<workdir>/tasks/`` and ``custom_task.include_path`` is
    indexed too; lm-eval's built-in tasks are only indexed (6 s) when a task is not found there.
    Relative ``dataset_kwargs.data_files`` (and ``data_dir``, and a relative ``dataset_path`` that
    exists) resolve against the ``include_path`` directory (plain lm-eval resolves them against the
    working directory); absolute paths are simplest.

Progress
    lm-eval's cache hook is called once per finished request; the total is the number of request
    instances the tasks built, read when lm-eval first calls the model.

Errors
    Before a run, one tiny request to the endpoint (the same URL, key and model; with echo+logprobs
    when scoring) turns a stopped server, a bad key, an unknown model or an endpoint without prompt
    logprobs into a clear ``BackendError`` in seconds. During a run, refused connections and 4xx
    answers (but 408/409/425/429) skip lm-eval's tenacity retries.

Settings beyond ``LmEvalBackendConfig``'s fields (its extras)
    ``apply_chat_template`` (bool), ``model_args`` (dict, added to lm-eval's), ``preflight`` (bool).
"""

from __future__ import annotations

import contextlib
import difflib
import json
import logging
import math
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import yaml

from evalhub.models import JobRecord, LmEvalBackendConfig, ModelType
from evalhub.services.scoring import LOGPROB_OUTPUT_TYPES, unscorable_reason

from .base import BackendError, BackendResult, ProgressSink, ResolvedModel

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from lm_eval.api.model import LM
    from lm_eval.tasks import TaskManager

SCORED_TYPES = LOGPROB_OUTPUT_TYPES
OPENAI_BASE = "https://api.openai.com/v1"
COMPLETIONS = "local-completions"
CHAT = "local-chat-completions"
HF = "hf"
_REQUEST_TYPES = ("loglikelihood", "loglikelihood_rolling", "generate_until")


@dataclass
class LmSpec:
    """One lm-eval model: its registry name, the exact ``model_args`` string, and how it is used."""

    model: str
    model_args: str
    extra: dict[str, Any] = field(default_factory=dict, repr=False)
    """Constructor arguments kept out of the string (secrets, values with commas)."""
    chat: bool = False
    """Whether prompts go through the chat template (``apply_chat_template``)."""
    endpoint: str | None = None
    """The URL requests go to (API models)."""
    scores: bool = False
    """Whether it must return prompt logprobs."""


def api_base(model: ResolvedModel) -> str:
    """The model's OpenAI-style base URL (see the module docstring)."""
    url = (model.base_url or (OPENAI_BASE if model.model_type == ModelType.OPENAI else "")).strip()
    if not url:
        raise BackendError(
            f"Model '{model.name}' ({model.model_type}) has no base_url to send requests to.", permanent=True
        )
    url = url.rstrip("/")
    for suffix in ("/chat/completions", "/completions"):
        if url.endswith(suffix):
            url = url[: -len(suffix)]
    if urlsplit(url).path in ("", "/"):
        url += "/v1"
    return url


def lm_spec(
    model: ResolvedModel, config: LmEvalBackendConfig, *, scores: bool, batch_size: int | str | None = None
) -> LmSpec:
    """The lm-eval model for ``model``; ``scores``: some task needs loglikelihoods."""
    extras = config.model_extra or {}
    tokenizer = config.tokenizer or model.tokenizer
    batch = batch_size if batch_size is not None else (config.batch_size or 1)
    args: dict[str, Any]
    if model.model_type == ModelType.HUGGINGFACE:
        args = {
            "pretrained": model.name,
            "tokenizer": tokenizer,
            "device": config.device,
            "batch_size": batch,
        }
        name, chat, endpoint, auth = HF, bool(extras.get("apply_chat_template", False)), None, None
    else:
        base = api_base(model)
        chat = not scores and bool(extras.get("apply_chat_template", True))
        name, endpoint = (CHAT, f"{base}/chat/completions") if chat else (COMPLETIONS, f"{base}/completions")
        args = {"model": model.name, "base_url": endpoint}
        if not chat:
            if tokenizer:
                backend = "huggingface"
            elif not scores:
                backend = "none"  # plain generation needs no tokenizer: lm-eval sends prompts as text
            else:
                backend = "tiktoken" if model.model_type == ModelType.OPENAI else "remote"
            backend = config.tokenizer_backend or backend
            args |= {
                "tokenizer_backend": backend,
                "tokenizer": tokenizer if backend == "huggingface" else None,
            }
        args |= {
            "num_concurrent": config.parallelism,
            "max_retries": config.max_retries,
            "timeout": max(1, round(config.timeout_seconds)),
            "seed": config.seed,
            "batch_size": batch,
        }
        uses_remote = args.get("tokenizer_backend") == "remote"
        auth = model.api_key if uses_remote else None
    user_args = extras.get("model_args") or {}
    if not isinstance(user_args, Mapping):
        raise BackendError(
            "backend_config.model_args must be an object of lm-eval model arguments", permanent=True
        )
    text, extra = model_args_string(args | dict(user_args))
    if auth:
        extra["auth_token"] = auth
    return LmSpec(name, text, extra, chat=chat, endpoint=endpoint, scores=scores and name != HF)


def model_args_string(args: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """``key=value,...`` as lm-eval parses it, and the arguments a string cannot carry."""
    parts: list[str] = []
    extra: dict[str, Any] = {}
    for key, value in args.items():
        if value is None:
            continue
        if isinstance(value, bool | int | float):
            parts.append(f"{key}={value}")
        elif isinstance(value, str) and "," not in value:
            parts.append(f"{key}={value}" if _plain(value) else f'{key}="{value}"')
        else:
            extra[key] = value
    return ",".join(parts), extra


def _plain(value: str) -> bool:
    """Whether lm-eval's ``handle_arg_string`` returns ``value`` unchanged."""
    if value != value.strip() or value.lower() in ("true", "false", "none"):
        return False
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return False
    try:
        float(value)
    except ValueError:
        return True
    return False


def gen_kwargs(model: ResolvedModel, job: JobRecord) -> dict[str, Any] | None:
    """Generation settings (model defaults, then the evaluation's ``model_configuration``)."""
    merged = {k: v for k, v in (model.generation_defaults | job.model_configuration).items() if v is not None}
    if "max_tokens" in merged:
        merged["max_gen_toks"] = merged.pop("max_tokens")
    if merged.get("temperature", 0) > 0:
        merged.setdefault("do_sample", True)  # lm-eval's HF model decodes greedily without it
    return merged or None


class LmEvalBackend:
    """Runs ``job.tasks`` with lm-eval; see the module docstring."""

    def run(self, job: JobRecord, model: ResolvedModel, report: ProgressSink, workdir: Path) -> BackendResult:
        config = LmEvalBackendConfig.model_validate(job.backend_config)
        bench = job.benchmark_config
        progress = _Progress(report)
        progress.report(0.0)
        if job.custom_task is None:
            offline_unless_hub_reachable()
        manager, items = _load_tasks(job, model, config, workdir)
        runs = _plan(items, model, config, bench.get("batch_size"))
        for spec, tops in runs:
            for output_type in sorted({t.OUTPUT_TYPE for top in tops for t in _leaves(top)}):
                reason = unscorable_reason(output_type, model.model_type, model.supports_logprobs)
                if reason and spec.scores:
                    raise BackendError(
                        f"Model '{model.name}' cannot run {_names(tops)}: {reason}", permanent=True
                    )
        progress.weights = [_estimate(tops, bench.get("limit")) for _, tops in runs]
        preflight = (config.model_extra or {}).get("preflight", True) is not False

        outputs: list[dict[str, Any]] = []
        with _api_key(model.api_key):
            for index, (spec, tops) in enumerate(runs):
                if spec.endpoint and preflight:
                    _preflight(spec, model, config.timeout_seconds)
                outputs.append(self._evaluate(spec, tops, job, model, config, manager, progress.part(index)))
        merged = _merge(outputs, runs)
        samples = {task: _json_safe(rows) for task, rows in merged.pop("samples", {}).items()}
        layout = {
            name: [[_name(top), *(t.task_name for t in _leaves(top))] for top in tops]
            for name, tops in items.items()
        }
        metrics = headline_metrics(merged.get("results", {}), layout)
        progress.report(1.0)
        return BackendResult(metrics=metrics, documents={"results": _json_safe(merged)}, samples=samples)

    def _evaluate(
        self,
        spec: LmSpec,
        tops: list[Any],
        job: JobRecord,
        model: ResolvedModel,
        config: LmEvalBackendConfig,
        manager: TaskManager,
        progress: _Part,
    ) -> dict[str, Any]:
        import lm_eval

        lm = _build_lm(spec)
        progress.watch(lm, tops)
        bench = job.benchmark_config
        seed = config.seed
        try:
            results = lm_eval.simple_evaluate(
                model=lm,
                model_args=spec.model_args,  # only recorded in results["config"]: the LM is built
                tasks=tops,
                num_fewshot=bench.get("num_fewshot"),
                limit=bench.get("limit"),
                log_samples=config.log_samples,
                apply_chat_template=spec.chat,
                gen_kwargs=gen_kwargs(model, job),
                task_manager=manager,
                random_seed=seed,
                numpy_random_seed=seed,
                torch_random_seed=seed,
                fewshot_random_seed=seed,
            )
        except _Fatal as fatal:
            raise BackendError(_explain(fatal.error, spec, model)) from fatal.error
        except BackendError:
            raise
        except Exception as exc:
            raise BackendError(_explain(exc, spec, model)) from exc
        if not isinstance(results, dict):
            raise BackendError("lm-evaluation-harness returned no results")
        results["config"]["model"] = spec.model
        return results


# ---------------------------------------------------------------- tasks


def _load_tasks(
    job: JobRecord, model: ResolvedModel, config: LmEvalBackendConfig, workdir: Path
) -> tuple[TaskManager, dict[str, list[Any]]]:
    """A TaskManager that knows the job's tasks, and the Task/Group objects each task name loads."""
    from lm_eval.tasks import TaskManager

    paths: list[str] = []
    base_dir: Path | None = None  # where relative data files live
    custom = job.custom_task or {}
    if custom.get("include_path"):
        include = Path(str(custom["include_path"])).expanduser()
        if not include.exists():
            raise BackendError(
                f"custom_task.include_path {include} does not exist on the runner.", permanent=True
            )
        paths.append(str(include))
        base_dir = include if include.is_dir() else include.parent
    if custom.get("yaml"):
        text = str(custom["yaml"])
        folder = workdir / "tasks"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{_yaml_task_name(text)}.yaml").write_text(text, encoding="utf-8")
        paths.append(str(folder))  # last, so that it wins over a same-named task of include_path
    metadata = {"model": model.name}
    if tokenizer := config.tokenizer or model.tokenizer:
        metadata["tokenizer"] = tokenizer
    if model.model_type == ModelType.HUGGINGFACE:
        metadata["pretrained"] = model.name

    def load(manager: TaskManager) -> dict[str, list[Any]]:
        with _data_files_under(base_dir):
            return {name: _load(manager, name) for name in job.tasks}

    if paths:
        manager = TaskManager(include_path=paths, include_defaults=False, metadata=metadata)
        if all(_known(manager, name) for name in job.tasks):
            try:
                return manager, load(manager)
            except _LoadError as exc:
                if exc.data:
                    raise
                # e.g. a custom group of built-in tasks: try again with lm-eval's own tasks indexed
    manager = TaskManager(include_path=paths or None, include_defaults=True, metadata=metadata)
    for name in job.tasks:
        if not _known(manager, name):
            close = difflib.get_close_matches(name, manager.all_tasks, n=3)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise BackendError(
                f"Unknown lm-evaluation-harness task '{name}'.{hint} Use a task, group or tag name lm-eval "
                "knows (`lm-eval ls tasks`), or define it in the benchmark's custom_task (yaml or include_path).",
                permanent=True,
            )
    return manager, load(manager)


class _LoadError(BackendError):
    def __init__(self, message: str, *, data: bool) -> None:
        super().__init__(message)
        self.data = data
        """Whether the task's data could not be read (as opposed to its definition)."""


def _known(manager: TaskManager, name: str) -> bool:
    return name in manager.task_index or (name.endswith((".yaml", ".yml")) and Path(name).is_file())


class _IgnoreTags(yaml.SafeLoader):
    """Reads a task YAML without resolving lm-eval's ``!function`` tags."""


_IgnoreTags.add_multi_constructor("!", lambda loader, suffix, node: None)


def _yaml_task_name(text: str) -> str:
    try:
        doc = yaml.load(text, Loader=_IgnoreTags)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise BackendError(f"custom_task.yaml is not valid YAML: {exc}", permanent=True) from exc
    if not isinstance(doc, dict):
        raise BackendError(
            "custom_task.yaml must be a mapping with a 'task' (or 'group') key", permanent=True
        )
    name = next((v for v in (doc.get("group"), doc.get("task")) if isinstance(v, str) and v), "custom_task")
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:100]


def _load(manager: TaskManager, name: str) -> list[Any]:
    """The top-level Task/Group objects ``name`` stands for (several for a tag)."""
    try:
        loaded = manager.load([name])
    except Exception as exc:
        message, data = _explain_load(name, exc)
        raise _LoadError(message, data=data) from exc
    groups, tasks = loaded.get("groups", {}), loaded["tasks"]
    if name in groups:
        return [groups[name]]
    if name in tasks:
        return [tasks[name]]
    children = {c for kids in loaded.get("group_map", {}).values() for c in kids}
    tops = [g for n, g in groups.items() if n not in children]
    inside = {t.task_name for g in tops for t in g.get_all_tasks()}
    return tops + [t for n, t in tasks.items() if n not in inside]


def _explain_load(name: str, exc: BaseException) -> tuple[str, bool]:
    """What went wrong loading task ``name``, and whether it was its data."""
    text = " ".join(str(e) for e in _chain(exc))
    if isinstance(exc, ConnectionError) or "on the Hub" in text or "offline" in text.lower():
        return (
            f"Could not load the dataset of task '{name}': the Hugging Face Hub is unreachable from the runner "
            f"(no network, or offline mode) ({exc}). Use a custom task that reads local files instead "
            "(dataset_path: json with dataset_kwargs.data_files pointing at files on the runner).",
            True,
        )
    if isinstance(exc, FileNotFoundError):
        return (
            f"Could not load the data of task '{name}': {exc}. data_files must be absolute paths on the "
            "runner or relative to the custom task's include_path directory.",
            True,
        )
    return f"Could not load task '{name}': {type(exc).__name__}: {exc}", False


@contextlib.contextmanager
def _data_files_under(base: Path | None) -> Iterator[None]:
    """Resolves relative local dataset paths of the tasks loaded inside against ``base``."""
    if base is None:
        yield
        return
    import datasets

    original = datasets.load_dataset

    def resolve(value: Any) -> Any:
        if isinstance(value, str):
            if "://" in value or Path(value).is_absolute():
                return value
            candidate = base / value
            try:
                found = candidate.exists() or any(base.glob(value))  # data_files may be globs
            except ValueError:  # not a usable pattern
                found = False
            return str(candidate) if found else value
        if isinstance(value, list):
            return [resolve(v) for v in value]
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        return value

    def load_dataset(path: str, *args: Any, **kwargs: Any) -> Any:
        for key in ("data_files", "data_dir"):
            if kwargs.get(key) is not None:
                kwargs[key] = resolve(kwargs[key])
        if isinstance(path, str) and not Path(path).is_absolute() and (base / path).exists():
            path = str(base / path)
        return original(path, *args, **kwargs)

    datasets.load_dataset = load_dataset
    try:
        yield
    finally:
        datasets.load_dataset = original


def _leaves(item: Any) -> list[Any]:
    return list(item.get_all_tasks()) if hasattr(item, "get_all_tasks") else [item]


def _name(top: Any) -> str:
    return str(top.name if hasattr(top, "get_all_tasks") else top.task_name)  # a Group, or a Task


def _names(tops: list[Any]) -> str:
    return ", ".join(_name(t) for t in tops)


def _plan(
    items: dict[str, list[Any]], model: ResolvedModel, config: LmEvalBackendConfig, batch: int | str | None
) -> list[tuple[LmSpec, list[Any]]]:
    """One lm-eval model per kind of task: scored by loglikelihood, or generated (API models)."""
    if model.model_type == ModelType.HUGGINGFACE:
        everything = [top for tops in items.values() for top in tops]
        return [(lm_spec(model, config, scores=True, batch_size=batch), everything)]
    scored: list[Any] = []
    generated: list[Any] = []
    for tops in items.values():
        for top in tops:
            # A group mixing both kinds stays whole, on completions (which can also generate).
            needs_scores = any(t.OUTPUT_TYPE in SCORED_TYPES for t in _leaves(top))
            (scored if needs_scores else generated).append(top)
    runs = []
    if scored:
        runs.append((lm_spec(model, config, scores=True, batch_size=batch), scored))
    if generated:
        runs.append((lm_spec(model, config, scores=False, batch_size=batch), generated))
    return runs


def _estimate(tops: list[Any], limit: int | None) -> float:
    """Roughly how many requests ``tops`` make, to weigh the parts of a job's progress."""
    total = 0.0
    for task in (leaf for top in tops for leaf in _leaves(top)):
        try:
            docs = task.eval_docs
            count = min(len(docs), limit) if limit else len(docs)
            each = len(task.doc_to_choice(docs[0])) if task.OUTPUT_TYPE == "multiple_choice" and count else 1
            total += count * each * (task.config.repeats or 1)
        except Exception:
            total += 1
    return max(total, 1.0)


def offline_unless_hub_reachable(timeout: float = 3.0) -> None:
    """Built-in tasks read their datasets from the Hugging Face Hub. When it cannot be reached (no
    network, a firewall), switch the hub libraries to offline mode before they are imported: datasets
    already in the cache then load at once, and missing ones fail in seconds instead of after ~30 s
    of retries. An explicit HF_HUB_OFFLINE, or libraries already imported, are left alone."""
    if "HF_HUB_OFFLINE" in os.environ or "datasets" in sys.modules:
        return
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    try:
        httpx.head(endpoint, timeout=timeout)
    except httpx.HTTPError as exc:
        log.warning(
            "the Hugging Face Hub at %s is unreachable (%s): datasets come from the cache only", endpoint, exc
        )
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["HF_DATASETS_OFFLINE"] = "1"


# ---------------------------------------------------------------- the model


def _build_lm(spec: LmSpec) -> LM:
    from lm_eval.api.registry import get_model

    try:
        lm = get_model(spec.model).create_from_arg_string(spec.model_args, spec.extra)
    except ImportError as exc:
        hint = (
            "; huggingface models need the GPU runner image (torch, transformers)" if spec.model == HF else ""
        )
        raise BackendError(
            f"lm-eval's '{spec.model}' model cannot be loaded in this runner ({exc}){hint}.", permanent=True
        ) from exc
    except Exception as exc:
        raise BackendError(_explain(exc, spec, None)) from exc
    _fail_fast(lm)
    return lm


class _Fatal(BaseException):
    """Carries an error no retry can fix past lm-eval's tenacity retries (which only retry Exception)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def _fail_fast(lm: Any) -> None:
    """Makes refused connections and 4xx answers end the run at once instead of after retries."""
    if hasattr(lm, "amodel_call"):
        amodel_call = lm.amodel_call

        async def guarded_amodel_call(*args: Any, **kwargs: Any) -> Any:
            try:
                return await amodel_call(*args, **kwargs)
            except Exception as exc:
                if _permanent(exc):
                    raise _Fatal(exc) from exc
                raise

        lm.amodel_call = guarded_amodel_call
    if hasattr(lm, "model_call"):
        model_call = lm.model_call

        def guarded_model_call(*args: Any, **kwargs: Any) -> Any:
            try:
                return model_call(*args, **kwargs)
            except Exception as exc:
                if _permanent(exc):
                    raise _Fatal(exc) from exc
                raise

        lm.model_call = guarded_model_call


def _permanent(exc: BaseException) -> bool:
    status = _status(exc)
    if status is not None:
        return 400 <= status < 500 and status not in (408, 409, 425, 429)
    return _refused(exc)


@contextlib.contextmanager
def _api_key(key: str | None) -> Iterator[None]:
    """lm-eval's OpenAI-style models read the key from OPENAI_API_KEY."""
    if key is None:
        yield
        return
    before = os.environ.get("OPENAI_API_KEY")
    os.environ["OPENAI_API_KEY"] = key
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("OPENAI_API_KEY", None)
        else:
            os.environ["OPENAI_API_KEY"] = before


def _preflight(spec: LmSpec, model: ResolvedModel, timeout: float) -> None:
    """One tiny request to the endpoint, so that a wrong URL, key or model fails in seconds, clearly."""

    assert spec.endpoint is not None
    body: dict[str, Any] = {"model": model.name, "max_tokens": 1, "temperature": 0}
    if spec.model == CHAT:
        body["messages"] = [{"role": "user", "content": "Hello"}]
    else:
        body["prompt"] = "Hello, world"
        if spec.scores:
            body |= {"echo": True, "logprobs": 1}
    key = os.environ.get("OPENAI_API_KEY", "")
    try:
        response = httpx.post(
            spec.endpoint,
            json=body,
            headers={"Authorization": f"Bearer {key}"} if key else {},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        )
    except httpx.HTTPError as exc:
        raise BackendError(_explain(exc, spec, model)) from exc
    if response.status_code >= 400:
        detail = _detail(response.text)
        if spec.scores and response.status_code in (400, 422):
            raise BackendError(
                f"The model endpoint at {spec.endpoint} cannot score loglikelihood tasks: it rejected a request "
                f"for prompt logprobs (echo=True, logprobs=1) with HTTP {response.status_code}: {detail}",
                permanent=True,
            )
        # 4xx but timeouts and rate limits is the endpoint saying no: asking again will not help.
        permanent = response.status_code < 500 and response.status_code not in (408, 429)
        raise BackendError(_http_message(response.status_code, spec, model, detail), permanent=permanent)
    if spec.scores:
        try:
            logprobs = response.json()["choices"][0]["logprobs"]["token_logprobs"]
        except (ValueError, LookupError, TypeError):
            logprobs = None
        if not isinstance(logprobs, list) or len(logprobs) < 2:
            raise BackendError(
                f"The model endpoint at {spec.endpoint} cannot score loglikelihood tasks: it returned no prompt "
                "logprobs (echo=True). Use a server that returns them (e.g. vLLM's /v1/completions), "
                "or generation (generate_until) benchmarks for this model.",
                permanent=True,
            )


def _detail(text: str) -> str:
    try:
        doc = json.loads(text)
    except ValueError:
        return text.strip()[:300]
    error = doc.get("error", doc) if isinstance(doc, dict) else doc
    message = error.get("message") or error.get("detail") if isinstance(error, dict) else error
    return str(message)[:300]


# ---------------------------------------------------------------- errors


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__  # _Fatal is raised from its error


def _status(exc: BaseException) -> int | None:
    for e in _chain(exc):
        status = getattr(e, "status", None)  # aiohttp.ClientResponseError
        if status is None:
            response = getattr(e, "response", None)  # requests / httpx errors
            status = getattr(response, "status_code", None)
        if isinstance(status, int) and status >= 400:
            return status
    return None


def _refused(exc: BaseException) -> bool:
    return any(isinstance(e, ConnectionRefusedError) or "Connection refused" in str(e) for e in _chain(exc))


def _http_message(status: int, spec: LmSpec, model: ResolvedModel | None, detail: str = "") -> str:
    where = f"The model endpoint at {spec.endpoint}"
    said = f" (server said: {detail})" if detail else ""
    name = model.name if model else "?"
    if status in (401, 403):
        return (
            f"{where} rejected the API key ({status}){said}. Check the API key configured for model '{name}' "
            "(its secret or environment variable)."
        )
    if status == 404:
        return (
            f"{where} answered 404: model '{name}' not found there, or the URL is wrong{said}. "
            "Check the model's name/path and base_url (an OpenAI-style base ending in /v1)."
        )
    return f"{where} answered HTTP {status}{said}."


def _explain(exc: BaseException, spec: LmSpec, model: ResolvedModel | None) -> str:
    """A message a person can act on, for an error raised while talking to the model."""
    status = _status(exc)
    if status is not None:
        return _http_message(status, spec, model)
    where = spec.endpoint or spec.model
    if _refused(exc):
        return f"Could not reach the model endpoint at {where}: connection refused. Is the server running?"
    text = " ".join(f"{type(e).__name__}: {e}" for e in _chain(exc))
    if "RemoteTokenizer" in text:
        return (
            f"The tokenizer endpoints (/tokenizer_info, /tokenize) next to {where} failed: {exc}. Loglikelihood "
            "tasks need a tokenizer: serve the model with vLLM, or set backend_config.tokenizer to its "
            "Hugging Face tokenizer name."
        )
    if "Timeout" in text or "timed out" in text:
        return f"The model endpoint at {where} did not answer in time ({exc}). Raise timeout_seconds?"
    names = {type(e).__name__ for e in _chain(exc)}
    if names & {"ClientConnectorError", "ConnectError", "ConnectionError", "ClientOSError"}:
        return f"Could not reach the model endpoint at {where}: {exc}"
    return f"lm-evaluation-harness failed: {type(exc).__name__}: {exc}"


# ---------------------------------------------------------------- progress


class _Progress:
    """Reports a job's fraction done, rising only, across one or more lm-eval runs."""

    def __init__(self, sink: ProgressSink) -> None:
        self._sink = sink
        self._lock = threading.Lock()
        self._last = -1.0
        self.weights: list[float] = [1.0]

    def report(self, fraction: float) -> None:
        with self._lock:
            if fraction <= self._last:
                return
            self._last = fraction
        self._sink(fraction)

    def part(self, index: int) -> _Part:
        total = sum(self.weights)
        start = sum(self.weights[:index]) / total
        return _Part(self, start, self.weights[index] / total)


class _Part:
    """One lm-eval run: counts finished requests through the LM's cache hook."""

    def __init__(self, progress: _Progress, start: float, share: float) -> None:
        self._progress = progress
        self._start = start
        self._share = share
        self._done = 0
        self._total = 0
        self._counted = False
        self._exact = False
        self._lock = threading.Lock()

    def watch(self, lm: Any, tops: list[Any]) -> None:
        lm.set_cache_hook(_CountingHook(self.finished))
        for name in _REQUEST_TYPES:
            if hasattr(lm, name):
                setattr(lm, name, self._counting(getattr(lm, name), tops))

    def _counting(self, method: Callable[..., Any], tops: list[Any]) -> Callable[..., Any]:
        def call(requests: list[Any], *args: Any, **kwargs: Any) -> Any:
            with self._lock:
                if not self._counted:
                    # lm-eval builds every request of the run before its first model call: count them.
                    self._counted = True
                    leaves = [t for top in tops for t in _leaves(top)]
                    self._total = sum(i.repeats for t in leaves for i in getattr(t, "instances", None) or [])
                    self._exact = self._total > 0
                if not self._exact:  # fall back to what each call brings
                    self._total += len(requests)
            return method(requests, *args, **kwargs)

        return call

    def finished(self) -> None:
        with self._lock:
            self._done += 1
            fraction = min(self._done / self._total, 1.0) if self._total else 0.0
        self._progress.report(self._start + self._share * fraction)


class _CountingHook:
    """Stands in for lm-eval's CacheHook, whose ``add_partial`` lm-eval calls once per finished request."""

    def __init__(self, finished: Callable[[], None]) -> None:
        self._finished = finished

    def add_partial(self, attr: str, req: Any, res: Any) -> None:
        if req is not None:  # None: one window of a loglikelihood_rolling request, counted whole
            self._finished()


# ---------------------------------------------------------------- results


def _merge(outputs: list[dict[str, Any]], runs: list[tuple[LmSpec, list[Any]]]) -> dict[str, Any]:
    """One results document out of one or more simple_evaluate results (first run's config on top)."""
    merged: dict[str, Any] = {}
    for output in outputs:
        for key, value in output.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict) and key != "config":
                merged[key] = {**merged[key], **value}
            else:
                merged.setdefault(key, value)
    merged["evalhub"] = {
        "runs": [
            {
                "model": spec.model,
                "model_args": spec.model_args,
                "extra_model_args": {k: v for k, v in spec.extra.items() if k != "auth_token"},
                "apply_chat_template": spec.chat,
                "tasks": [_name(t) for t in tops],
                "config": output.get("config"),
            }
            for (spec, tops), output in zip(runs, outputs, strict=True)
        ]
    }
    return merged


def headline_metrics(
    results: Mapping[str, Mapping[str, Any]], layout: Mapping[str, list[list[str]]]
) -> dict[str, float]:
    """The job's metrics: bare for one task (or one group's aggregate), else ``<task>/<metric>``.

    ``layout``: each job task name -> for each top-level task or group it loaded, ``[its name, *leaf
    task names]``; a group without an aggregate row (or a tag) contributes its tasks' rows. Filters
    other than ``none`` stay in the name (``exact_match,strict-match``); stderrs are left out.
    """

    def row(name: str) -> dict[str, float]:
        out: dict[str, float] = {}
        for key, value in results.get(name, {}).items():
            metric, _, filt = key.partition(",")
            if not filt or metric.endswith("_stderr") or isinstance(value, bool):
                continue  # alias, name, sample_len; stderrs
            if isinstance(value, int | float) and math.isfinite(value):
                out[metric if filt == "none" else key] = float(value)
        return out

    rows: dict[str, dict[str, float]] = {}
    for name, tops in layout.items():
        if metrics := row(name):
            rows[name] = metrics
            continue
        for top, *leaves in tops:
            for part in [top] if row(top) else leaves:
                if metrics := row(part):
                    rows[part] = metrics
    if len(rows) == 1:
        return next(iter(rows.values()))
    return {f"{task}/{metric}": value for task, metrics in rows.items() for metric, value in metrics.items()}


def _json_safe(value: Any) -> Any:
    """Plain JSON types: numpy scalars unwrapped, tuples and sets as lists, NaN/inf as None."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_safe(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        with contextlib.suppress(Exception):
            return _json_safe(item())
    return str(value)
