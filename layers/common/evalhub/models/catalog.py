"""Catalog schemas: providers, benchmarks, collections, risk categories."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Benchmark(BaseModel):
    """One benchmark a provider can run (an lm-eval task or group, a NeMo Evaluator task)."""

    benchmark_id: str
    name: str
    description: str = ""
    category: str
    provider_id: str
    metrics: list[str] = Field(default_factory=list)
    num_few_shot: int = 0
    dataset_size: int | None = None
    tags: list[str] = Field(default_factory=list)
    output_type: str | None = None
    """lm-eval output type (multiple_choice, loglikelihood, loglikelihood_rolling, generate_until)."""
    is_group: bool = False


class BenchmarkList(BaseModel):
    benchmarks: list[Benchmark]
    total_count: int


class ProviderSummary(BaseModel):
    provider_id: str
    provider_name: str
    provider_type: str
    description: str = ""
    benchmark_count: int


class Provider(ProviderSummary):
    benchmarks: list[Benchmark]


class ProviderList(BaseModel):
    providers: list[ProviderSummary]
    total_providers: int


class BenchmarkRef(BaseModel):
    provider_id: str
    benchmark_id: str


class Collection(BaseModel):
    collection_id: str
    name: str
    description: str = ""
    benchmarks: list[BenchmarkRef]
    tags: list[str] = Field(default_factory=list)


class CollectionList(BaseModel):
    collections: list[Collection]
    total_collections: int


class RiskCategorySpec(BaseModel):
    """Benchmarks a risk level runs, with the sample limit (None: whole dataset) and few-shot count."""

    risk_category: str
    benchmarks: list[BenchmarkRef]
    limit: int | None
    num_fewshot: int
