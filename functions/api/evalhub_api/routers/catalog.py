from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from evalhub.models import Benchmark, BenchmarkList, Collection, CollectionList, Provider, ProviderList

from ..deps import Ctx

router = APIRouter(tags=["catalog"])


@router.get("/providers", response_model=ProviderList)
def list_providers(ctx: Ctx) -> ProviderList:
    providers = ctx.catalog.providers()
    return ProviderList(providers=providers, total_providers=len(providers))


@router.get("/providers/{provider_id}", response_model=Provider)
def get_provider(ctx: Ctx, provider_id: str) -> Provider:
    return ctx.catalog.provider(provider_id)


@router.get("/providers/{provider_id}/benchmarks", response_model=list[Benchmark])
def list_provider_benchmarks(ctx: Ctx, provider_id: str) -> list[Benchmark]:
    return ctx.catalog.benchmarks(provider_id=provider_id)


@router.get("/providers/{provider_id}/benchmarks/{benchmark_id}", response_model=Benchmark)
def get_benchmark(ctx: Ctx, provider_id: str, benchmark_id: str) -> Benchmark:
    return ctx.catalog.benchmark(provider_id, benchmark_id)


@router.get("/benchmarks", response_model=BenchmarkList)
def list_benchmarks(
    ctx: Ctx,
    category: Annotated[str | None, Query(description="e.g. math, reasoning, knowledge")] = None,
    provider_id: str | None = None,
) -> BenchmarkList:
    benchmarks = ctx.catalog.benchmarks(category=category, provider_id=provider_id)
    return BenchmarkList(benchmarks=benchmarks, total_count=len(benchmarks))


@router.get("/collections", response_model=CollectionList)
def list_collections(ctx: Ctx) -> CollectionList:
    collections = ctx.catalog.collections()
    return CollectionList(collections=collections, total_collections=len(collections))


@router.get("/collections/{collection_id}", response_model=Collection)
def get_collection(ctx: Ctx, collection_id: str) -> Collection:
    return ctx.catalog.collection(collection_id)
