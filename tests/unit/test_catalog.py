"""The packaged benchmark catalog: its data and the Catalog queries. No lm-eval import here."""

from __future__ import annotations

import subprocess
import sys

import pytest

from evalhub.catalog import CATEGORIES, Catalog, load_catalog
from evalhub.errors import InvalidRequest, NotFound
from evalhub.models.catalog import Benchmark, Collection, Provider, RiskCategorySpec
from evalhub.models.common import RiskCategory

LM_EVAL = "lm_evaluation_harness"
NEMO = "nemo_evaluator"
REQUIRED_LM_EVAL = {
    "arc_easy",
    "arc_challenge",
    "hellaswag",
    "winogrande",
    "mmlu",
    "mmlu_pro",
    "gsm8k",
    "hendrycks_math",
    "truthfulqa_mc2",
    "ifeval",
}
NOTEBOOK_NEMO_TASKS = {"mmlu_pro", "arc_challenge", "gsm8k", "hendrycks_math", "math"}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


# Data


def test_lm_eval_provider_lists_at_least_150_benchmarks_including_the_well_known_ones(
    catalog: Catalog,
) -> None:
    # Given the packaged catalog
    # When listing the lm-eval provider
    provider = catalog.provider(LM_EVAL)
    ids = {b.benchmark_id for b in provider.benchmarks}

    # Then it is the builtin harness with a large, complete benchmark list
    assert provider.provider_type == "builtin"
    assert provider.provider_name == "LM Evaluation Harness"
    assert provider.benchmark_count == len(provider.benchmarks) >= 150
    assert ids >= REQUIRED_LM_EVAL


def test_nemo_provider_offers_the_task_names_the_notebook_uses(catalog: Catalog) -> None:
    provider = catalog.provider(NEMO)

    assert provider.provider_type == "nemo-evaluator"
    assert provider.provider_name == "NeMo Evaluator"
    assert 20 <= provider.benchmark_count <= 40
    assert {b.benchmark_id for b in provider.benchmarks} >= NOTEBOOK_NEMO_TASKS


def test_every_benchmark_has_a_valid_category_and_belongs_to_its_provider(catalog: Catalog) -> None:
    for provider in catalog.providers():
        for benchmark in catalog.provider(provider.provider_id).benchmarks:
            assert benchmark.category in CATEGORIES, benchmark.benchmark_id
            assert benchmark.provider_id == provider.provider_id
            assert benchmark.name and benchmark.description


def test_benchmark_ids_are_unique_within_each_provider(catalog: Catalog) -> None:
    for summary in catalog.providers():
        ids = [b.benchmark_id for b in catalog.provider(summary.provider_id).benchmarks]
        assert len(ids) == len(set(ids)), summary.provider_id


def test_lm_eval_benchmarks_carry_the_facts_the_runner_needs(catalog: Catalog) -> None:
    gsm8k = catalog.benchmark(LM_EVAL, "gsm8k")
    mmlu = catalog.benchmark(LM_EVAL, "mmlu")
    wikitext = catalog.benchmark(LM_EVAL, "wikitext")

    assert (gsm8k.category, gsm8k.output_type, gsm8k.num_few_shot, gsm8k.is_group) == (
        "math",
        "generate_until",
        5,
        False,
    )
    assert "exact_match" in gsm8k.metrics
    assert mmlu.is_group and mmlu.output_type == "multiple_choice" and mmlu.metrics == ["acc"]
    assert wikitext.output_type == "loglikelihood_rolling"
    for benchmark in catalog.benchmarks(provider_id=LM_EVAL):
        assert benchmark.metrics, benchmark.benchmark_id
        assert benchmark.dataset_size is None or benchmark.dataset_size > 0


def test_every_collection_member_exists_in_the_catalog(catalog: Catalog) -> None:
    collections = catalog.collections()

    assert len(collections) >= 4
    for collection in collections:
        assert collection.benchmarks, collection.collection_id
        for ref in collection.benchmarks:
            assert catalog.find(ref.provider_id, ref.benchmark_id) is not None, (
                collection.collection_id,
                ref,
            )


def test_every_risk_category_member_exists_in_the_catalog(catalog: Catalog) -> None:
    for level in RiskCategory:
        for ref in catalog.risk_category(level).benchmarks:
            assert ref.provider_id == LM_EVAL
            assert catalog.find(ref.provider_id, ref.benchmark_id) is not None, (level, ref)


def test_risk_levels_are_nested_with_growing_limits() -> None:
    # Given the four risk levels
    catalog = load_catalog()

    # When reading each level's benchmarks and limits
    def ids(level: RiskCategory) -> list[str]:
        return [r.benchmark_id for r in catalog.risk_category(level).benchmarks]

    # Then each level adds to the one below it, with the specified limits and 5-shot prompts
    assert ids(RiskCategory.LOW) == ["hellaswag", "arc_easy"]
    assert ids(RiskCategory.MEDIUM) == [*ids(RiskCategory.LOW), "arc_challenge", "winogrande"]
    assert ids(RiskCategory.HIGH) == [*ids(RiskCategory.MEDIUM), "mmlu"]
    assert ids(RiskCategory.CRITICAL) == [*ids(RiskCategory.HIGH), "gsm8k"]
    limits = {level: catalog.risk_category(level).limit for level in RiskCategory}
    assert limits == {
        RiskCategory.LOW: 100,
        RiskCategory.MEDIUM: 500,
        RiskCategory.HIGH: 1000,
        RiskCategory.CRITICAL: None,
    }
    assert {catalog.risk_category(level).num_fewshot for level in RiskCategory} == {5}


# Queries


def test_providers_summarise_each_provider_with_its_benchmark_count(catalog: Catalog) -> None:
    summaries = catalog.providers()

    assert [s.provider_id for s in summaries] == [LM_EVAL, NEMO]
    for summary in summaries:
        assert summary.benchmark_count == len(catalog.provider(summary.provider_id).benchmarks)


def test_filtering_by_category_returns_only_that_category(catalog: Catalog) -> None:
    math = catalog.benchmarks(category="math")

    assert {b.category for b in math} == {"math"}
    assert "gsm8k" in {b.benchmark_id for b in math if b.provider_id == LM_EVAL}


def test_filtering_by_provider_and_category_combines_both(catalog: Catalog) -> None:
    found = catalog.benchmarks(category="code", provider_id=NEMO)

    assert found
    assert all(b.provider_id == NEMO and b.category == "code" for b in found)


def test_unfiltered_benchmarks_span_all_providers(catalog: Catalog) -> None:
    total = sum(s.benchmark_count for s in catalog.providers())

    assert len(catalog.benchmarks()) == total


def test_categories_are_the_twelve_known_ones_and_all_are_used(catalog: Catalog) -> None:
    assert catalog.categories() == list(CATEGORIES)
    assert len(CATEGORIES) == 12
    assert {b.category for b in catalog.benchmarks()} == set(CATEGORIES)


def test_unknown_category_is_an_invalid_request_listing_the_valid_ones(catalog: Catalog) -> None:
    with pytest.raises(InvalidRequest) as raised:
        catalog.benchmarks(category="astrology")

    assert "astrology" in raised.value.detail
    assert "math" in raised.value.detail and "reasoning" in raised.value.detail


def test_unknown_provider_is_not_found_listing_the_known_ones(catalog: Catalog) -> None:
    for call in (
        lambda: catalog.provider("helm"),
        lambda: catalog.benchmarks(provider_id="helm"),
        lambda: catalog.benchmark("helm", "gsm8k"),
    ):
        with pytest.raises(NotFound) as raised:
            call()
        assert raised.value.detail == f"Provider 'helm' not found; known: {LM_EVAL}, {NEMO}"


def test_unknown_benchmark_is_not_found_with_a_suggestion(catalog: Catalog) -> None:
    with pytest.raises(NotFound) as raised:
        catalog.benchmark(LM_EVAL, "gsm8kk")

    assert "'gsm8kk' not found in provider 'lm_evaluation_harness'" in raised.value.detail
    assert "gsm8k" in raised.value.detail.split("did you mean:")[1]


def test_benchmark_of_another_provider_is_not_found_and_says_where_it_is(catalog: Catalog) -> None:
    with pytest.raises(NotFound) as raised:
        catalog.benchmark(LM_EVAL, "math")

    assert raised.value.detail.endswith(f"it is offered by: {NEMO}")


def test_find_returns_none_instead_of_raising(catalog: Catalog) -> None:
    assert catalog.find(LM_EVAL, "nope") is None
    assert catalog.find("nope", "gsm8k") is None
    assert catalog.find(LM_EVAL, "gsm8k") == catalog.benchmark(LM_EVAL, "gsm8k")


def test_collection_lookup_and_unknown_collection(catalog: Catalog) -> None:
    assert catalog.collection("math_suite").collection_id == "math_suite"
    with pytest.raises(NotFound) as raised:
        catalog.collection("nope")
    assert "Collection 'nope' not found; known: " in raised.value.detail
    assert "core_reasoning" in raised.value.detail


def test_risk_category_accepts_the_enum_or_its_value_and_rejects_others(catalog: Catalog) -> None:
    assert catalog.risk_category("low") == catalog.risk_category(RiskCategory.LOW)
    with pytest.raises(InvalidRequest) as raised:
        catalog.risk_category("extreme")
    assert raised.value.detail == "Unknown risk category 'extreme'; valid: low, medium, high, critical"


# Loading


def test_load_catalog_reads_the_data_once() -> None:
    assert load_catalog() is load_catalog()


def test_catalog_imports_without_lm_eval() -> None:
    # Given a fresh interpreter
    code = "import sys; from evalhub.catalog import load_catalog; load_catalog(); print('lm_eval' in sys.modules)"

    # When the catalog is loaded
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    # Then lm-eval was never imported
    assert result.stdout.strip() == "False"


def _provider(benchmarks: list[Benchmark]) -> Provider:
    return Provider(
        provider_id="p",
        provider_name="P",
        provider_type="builtin",
        benchmark_count=len(benchmarks),
        benchmarks=benchmarks,
    )


def _risk_levels(ref_id: str) -> list[RiskCategorySpec]:
    ref = {"provider_id": "p", "benchmark_id": ref_id}
    return [
        RiskCategorySpec.model_validate(
            {"risk_category": r.value, "benchmarks": [ref], "limit": 1, "num_fewshot": 0}
        )
        for r in RiskCategory
    ]


def test_catalog_rejects_data_that_contradicts_itself() -> None:
    # Given a benchmark with a bad category and a collection naming a missing benchmark
    bad = Benchmark(benchmark_id="b", name="B", category="astrology", provider_id="p")
    dangling = Collection.model_validate(
        {"collection_id": "c", "name": "C", "benchmarks": [{"provider_id": "p", "benchmark_id": "missing"}]}
    )

    # When building a catalog from them
    with pytest.raises(ValueError) as raised:
        Catalog([_provider([bad])], [dangling], _risk_levels("b"))

    # Then both problems are reported at once
    assert "unknown category 'astrology'" in str(raised.value)
    assert "collection 'c' names unknown benchmark p/missing" in str(raised.value)


def test_catalog_accepts_consistent_data() -> None:
    good = Benchmark(benchmark_id="b", name="B", category="math", provider_id="p")

    catalog = Catalog([_provider([good])], [], _risk_levels("b"))

    assert catalog.benchmarks(category="math") == [good]
