"""The lm-eval part of the catalog against the installed lm-eval (0.4.13): ids exist, facts match its configs.

Indexing lm-eval's built-in tasks takes several seconds, so one TaskManager serves the module. No task is
instantiated (that would download datasets).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from evalhub.catalog import load_catalog
from evalhub.models.catalog import Benchmark

ROOT = Path(__file__).resolve().parents[2]
LM_EVAL = "lm_evaluation_harness"


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_lm_eval_catalog", ROOT / "scripts/gen_lm_eval_catalog.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is created
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    return _load_generator()


@pytest.fixture(scope="module")
def manager() -> Any:
    from lm_eval.tasks import TaskManager

    return TaskManager()


@pytest.fixture(scope="module")
def benchmarks() -> list[Benchmark]:
    return load_catalog().benchmarks(provider_id=LM_EVAL)


def test_lm_eval_version_is_the_one_the_catalog_was_generated_from() -> None:
    from importlib.metadata import version

    assert version("lm-eval") == "0.4.13"


def test_every_benchmark_is_a_real_lm_eval_task_or_group(manager: Any, benchmarks: list[Benchmark]) -> None:
    # Given lm-eval's index of tasks, groups and tags
    tasks, groups = set(manager.all_subtasks), set(manager.all_groups)

    # When checking each catalog benchmark
    unknown = [b.benchmark_id for b in benchmarks if b.benchmark_id not in manager.all_tasks]
    misfiled = [b.benchmark_id for b in benchmarks if b.benchmark_id in (groups if not b.is_group else tasks)]

    # Then each is a task or a group (not a tag), filed as what it is
    assert unknown == []
    assert misfiled == []
    assert all(b.benchmark_id in tasks | groups for b in benchmarks)


def test_stored_facts_match_what_lm_eval_configs_say(
    generator: ModuleType, manager: Any, benchmarks: list[Benchmark]
) -> None:
    # Given the generator's reading of lm-eval's YAML configs
    extractor = generator.Extractor(manager)

    # When comparing it with every stored benchmark
    mismatches = {}
    for b in benchmarks:
        facts = extractor.facts(b.benchmark_id)
        stored = (b.output_type, b.metrics, b.num_few_shot, b.is_group)
        expected = (facts.output_type, facts.metrics, facts.num_few_shot, facts.is_group)
        if stored != expected:
            mismatches[b.benchmark_id] = (stored, expected)

    # Then they agree
    assert mismatches == {}


def test_generator_reproduces_the_data_file_byte_for_byte(generator: ModuleType, manager: Any) -> None:
    # Given the committed data file
    committed = generator.OUT.read_text(encoding="utf-8")

    # When regenerating it from the curated table and the installed lm-eval
    regenerated = generator.render(generator.build(manager))

    # Then nothing changes
    assert regenerated == committed


def test_extraction_reads_known_configs_correctly(generator: ModuleType, manager: Any) -> None:
    extractor = generator.Extractor(manager)

    gsm8k = extractor.facts("gsm8k")
    assert (gsm8k.output_type, gsm8k.metrics, gsm8k.num_few_shot, gsm8k.is_group) == (
        "generate_until",
        ["exact_match"],
        5,
        False,
    )
    # A metric defined by a Python function is reported under the function's name.
    assert extractor.facts("humaneval").metrics == ["pass_at_k"]
    # A group takes its aggregate metrics and the output type all its members share.
    mmlu = extractor.facts("mmlu")
    assert (mmlu.output_type, mmlu.metrics, mmlu.is_group) == ("multiple_choice", ["acc"], True)
    # A group whose members differ in output type has none.
    assert extractor.facts("leaderboard").output_type is None
    # A group that lm-eval 0.4.13 builds wrongly (a member overriding a tag) is refused.
    with pytest.raises(ValueError, match="mis-builds"):
        extractor.facts("openllm")
    # A tag is not a benchmark.
    with pytest.raises(ValueError, match="TAG"):
        extractor.facts("ai2_arc")
