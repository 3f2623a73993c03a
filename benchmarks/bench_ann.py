"""Choosing people's approximate nearest-neighbour library: usearch vs faiss-cpu (HNSW) vs the exact matrix product.

Synthetic SFace-like faces (``tests/tools/people_support``: identities whose spread matches real SFace vectors), the
size people meets at 1 M faces in one block of the pool. Each library builds an HNSW graph (M = 16, ef_construction
= 128, inner product on unit vectors) and answers the k = 16 nearest for every face; recall is against the exact
answer. hnswlib is left out: its last release (0.8.0) ships no wheel, only source to compile.

    .venv/bin/python benchmarks/bench_ann.py [--faces 200000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "function"), str(ROOT / "tools"), str(ROOT / "tests")]

from tools.people_support import faces_of, identities  # noqa: E402

K = 16


def library(n: int) -> NDArray[Any]:
    rng = np.random.default_rng(0)
    k = max(1, n // 10)
    weights = 1.0 / np.arange(1, k + 1) ** 1.1
    truth = rng.choice(k, size=n, p=weights / weights.sum())
    vectors = np.asarray(faces_of(identities(k, rng), truth, rng), np.float32)
    unit: NDArray[Any] = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return unit


def exact(vectors: NDArray[Any], queries: NDArray[Any]) -> NDArray[Any]:
    out = np.empty((len(queries), K), np.int64)
    for first in range(0, len(queries), 1024):
        sims = queries[first : first + 1024] @ vectors.T
        out[first : first + 1024] = np.argpartition(-sims, K, axis=1)[:, :K]
    return out


def recall(found: NDArray[Any], truth: NDArray[Any]) -> float:
    return float(np.mean([len(set(a) & set(b)) / K for a, b in zip(found, truth, strict=True)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faces", type=int, default=200_000)
    args = parser.parse_args()
    vectors = library(args.faces)
    queries = vectors[:: max(1, args.faces // 5000)][:5000]
    started = time.perf_counter()
    truth = exact(vectors, queries)
    exact_s = (time.perf_counter() - started) * args.faces / len(queries)
    results = {"command": f"benchmarks/bench_ann.py --faces {args.faces}", "load_average": os.getloadavg()[0],
               "exact_all_faces_s (extrapolated)": round(exact_s, 1)}  # fmt: skip
    import faiss  # type: ignore[import-not-found,unused-ignore]  # measured when installed (pip install faiss-cpu usearch)
    from usearch.index import Index  # type: ignore[import-not-found,unused-ignore]

    started = time.perf_counter()
    index = Index(
        ndim=vectors.shape[1], metric="ip", dtype="f16", connectivity=16, expansion_add=128, expansion_search=64
    )
    index.add(np.arange(len(vectors)), vectors, threads=2)
    built = time.perf_counter() - started
    started = time.perf_counter()
    found = index.search(queries, K, threads=2).keys
    per_query = (time.perf_counter() - started) / len(queries)
    results["usearch"] = {"version": __import__("usearch").__version__, "build_s": round(built, 1),
                          "query_all_faces_s": round(per_query * args.faces, 1), "recall@16": round(recall(found, truth), 4)}  # fmt: skip
    faiss.omp_set_num_threads(2)
    started = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(vectors.shape[1], 16, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = 128
    hnsw.add(vectors)
    built = time.perf_counter() - started
    hnsw.hnsw.efSearch = 64
    started = time.perf_counter()
    _, found = hnsw.search(queries, K)
    per_query = (time.perf_counter() - started) / len(queries)
    results["faiss-cpu"] = {"version": faiss.__version__, "build_s": round(built, 1),
                            "query_all_faces_s": round(per_query * args.faces, 1), "recall@16": round(recall(found, truth), 4)}  # fmt: skip
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
