"""Benchmark: ``ossfaces people``'s clustering — speed and memory on synthetic faces, quality where labels exist.

Goals (issue 10 item 6): 100,000 faces clustered in ≤ 60 s with ≤ 500 MB peak RSS on this 2-core machine; the cost
curve at 10k / 100k faces and 1M extrapolated; pairwise precision/recall, BCubed F1 and the share of identities split
or merged.

No labelled identity set that the project may use can be obtained here (see docs/people.md: every permissive one is
off PyPI/npm or only in Git LFS). So quality is measured (1) on **synthetic identities** whose spread matches what
SFace gives on the real test photos (printed below: two different people at cosine similarity 0.08 ± 0.09), and
(2) on the **real photos** we have: four portraits, each in five "photos" (mirrored, darker, turned, smaller), and
the strangers of two group photos. (2) is easy by construction (the variants come from one photo): a smoke test of
real SFace vectors, not a benchmark of recognition across years and lighting.

Synthetic library: ``n`` faces from ``n / 10`` identities with Zipf-like sizes (exponent 1.1: a few people in
thousands of photos, a long tail of people seen once or twice), 70 % of faces able to seed (IMM v2's rule). Each size
runs in a fresh process (``--child``) that reports its own peak RSS (``VmHWM``): the faces go through the real path,
a result document per face, ``FaceTable`` (decoding the contract's float16 base64), then ``model.update``.

    .venv/bin/python benchmarks/bench_people.py [--sizes 10000,100000] [--real]

``--from-index FACES`` (issue 20's goal at 1,000,000: ≤ 10 min, ≤ 1.5 GB) instead runs ``people`` on a face-index part
of that library, each step in its own process: the first run (read, cluster, save the people file) and the second
(load that file, read, update: nothing changes), with peak RSS and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "function"), str(ROOT / "localstack"), str(ROOT / "tools"), str(ROOT / "tests")]

from ossfaces.document import FaceEmbedding  # noqa: E402
from ossfaces_tools.people import model  # noqa: E402
from ossfaces_tools.people.cluster import DEFAULT_MAX_DISTANCE, DEFAULT_MIN_FACES, ClusterParams  # noqa: E402
from ossfaces_tools.people.faces import FaceTable  # noqa: E402
from ossfaces_tools.people.state import PeopleState  # noqa: E402
from tools.people_support import faces_of, identities  # noqa: E402


def scores(
    labels: NDArray[np.int64], truth: NDArray[np.int64], min_faces: int, seeds: NDArray[np.bool_] | None = None
) -> dict[str, float]:
    """Pairwise precision/recall, BCubed precision/recall/F1 (faces without a person count as their own cluster),
    identities split over several people and people holding several identities. "Found" counts only identities
    that could found a person: at least ``min_faces`` faces able to seed."""
    labels = labels.copy()
    unassigned = labels < 0
    labels[unassigned] = labels.max(initial=0) + 1 + np.arange(unassigned.sum())  # singletons
    pairs = Counter(zip(labels.tolist(), truth.tolist(), strict=True))
    size_c = Counter(labels.tolist())
    size_l = Counter(truth.tolist())
    n = len(labels)
    bp = sum(v * v / size_c[c] for (c, _), v in pairs.items()) / n
    br = sum(v * v / size_l[ll] for (_, ll), v in pairs.items()) / n
    tp = sum(v * (v - 1) / 2 for v in pairs.values())
    pred = sum(v * (v - 1) / 2 for v in size_c.values())
    true = sum(v * (v - 1) / 2 for v in size_l.values())
    assigned = ~unassigned
    people_of: dict[int, set[int]] = {}
    ids_of: dict[int, set[int]] = {}
    for c, ll in zip(labels[assigned].tolist(), truth[assigned].tolist(), strict=True):
        people_of.setdefault(ll, set()).add(c)
        ids_of.setdefault(c, set()).add(ll)
    seeding = Counter(truth[seeds].tolist()) if seeds is not None else size_l
    eligible = [ll for ll, size in seeding.items() if size >= min_faces]
    return {
        "pairwise_precision": tp / pred if pred else 1.0,
        "pairwise_recall": tp / true if true else 1.0,
        "bcubed_precision": bp,
        "bcubed_recall": br,
        "bcubed_f1": 2 * bp * br / (bp + br),
        "identities_split": sum(len(people_of.get(ll, ())) > 1 for ll in eligible) / max(1, len(eligible)),
        "identities_found": sum(len(people_of.get(ll, ())) >= 1 for ll in eligible) / max(1, len(eligible)),
        "people_merged": sum(len(v) > 1 for v in ids_of.values()) / max(1, len(ids_of)),
        "faces_without_person": float(unassigned.mean()),
    }


def vm_hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def library_chunks(n: int, seed: int = 0, chunk: int = 10_000) -> Any:
    """``n`` faces of ``n / 10`` Zipf-sized identities, made ``chunk`` faces at a time (as results stream in); the
    generator returns the true identities and the seeding flags when done."""
    rng = np.random.default_rng(seed)
    k = max(1, n // 10)
    weights = 1.0 / np.arange(1, k + 1) ** 1.1
    truth = rng.choice(k, size=n, p=weights / weights.sum()).astype(np.int64)
    seeds = rng.random(n) < 0.7
    centres = identities(k, rng)
    for first in range(0, n, chunk):
        ids = truth[first : first + chunk]
        yield first, faces_of(centres, ids, rng), seeds[first : first + chunk]
    return truth, seeds


def child(n: int) -> dict[str, Any]:
    started = time.perf_counter()
    table = FaceTable()
    chunks = library_chunks(n)
    try:
        while True:
            first, vectors, seeds = next(chunks)
            for j, vector in enumerate(vectors):  # one result document per face, decoded as `people` decodes it
                face = {"Age": 30, "Gender": "FEMALE", "GenderConfidence": 0.9,
                        "FaceAttributes": {"FaceBoundary": {"Left": 0, "Top": 0, "Width": 100, "Height": 100}},
                        "Embedding": FaceEmbedding.of(vector, can_seed=bool(seeds[j])).model_dump()}  # fmt: skip
                table.add(
                    f"p/{first + j:07d}.jpg", {"Faces": [face], "Source": {"ETag": "e"}, "Engine": {"Name": "local"}}
                )
    except StopIteration as done:
        truth, seed = done.value
    read = time.perf_counter() - started
    state = PeopleState()
    started = time.perf_counter()
    report = model.update(state, table, ClusterParams(DEFAULT_MAX_DISTANCE, DEFAULT_MIN_FACES))
    clustered = time.perf_counter() - started
    labels = np.asarray([state.photos[table.keys[table.photo[r]]].faces[0] or -1 for r in range(n)], dtype=np.int64)
    started = time.perf_counter()
    again = model.update(state, table, ClusterParams(DEFAULT_MAX_DISTANCE, DEFAULT_MIN_FACES))
    rerun = time.perf_counter() - started
    return {"faces": n, "identities": len(set(truth.tolist())), "people": report.people,
            "decode_s": round(read, 2), "cluster_s": round(clustered, 2), "rerun_s": round(rerun, 2),
            "rerun_changed": again.changed, "peak_rss_mb": round(vm_hwm_mb(), 1),
            **{k: round(v, 4) for k, v in scores(labels, truth, DEFAULT_MIN_FACES, seed).items()}}  # fmt: skip


def real_photos() -> dict[str, Any]:
    """Real SFace vectors: the four portraits × five variants, and the group photos' strangers (the people tests' set)."""
    from PIL import Image

    from ossfaces.vision import FaceAnalyzer
    from tools.people_support import variants
    from tools.test_people import GROUPS, PHOTOS, PORTRAITS

    analyzer = FaceAnalyzer.load()
    vectors, truth, seeds = [], [], []
    for subject, name in enumerate(PORTRAITS):
        for data in variants(Image.open(PHOTOS / name)).values():
            analysis = analyzer.analyze(data)
            for face in analysis.faces:
                if "Embedding" in face:  # the engine embeds identifiable faces only
                    vectors.append(FaceEmbedding.model_validate(face["Embedding"]).vector())
                    truth.append(subject)
                    seeds.append(face["Embedding"]["CanSeed"])
    for name in GROUPS:
        analysis = analyzer.analyze((PHOTOS / name).read_bytes())
        for face in analysis.faces:
            if "Embedding" in face:
                vectors.append(FaceEmbedding.model_validate(face["Embedding"]).vector())
                truth.append(1000 + len(truth))  # each stranger is their own identity
                seeds.append(face["Embedding"]["CanSeed"])
    matrix = np.asarray(vectors, dtype=np.float32)
    t = np.asarray(truth)
    sims = matrix @ matrix.T
    upper = np.triu_indices(len(t), 1)
    same = t[upper[0]] == t[upper[1]]
    different = sims[upper][~same]
    from ossfaces_tools.people.cluster import UNASSIGNED, cluster

    labels, _ = cluster(matrix, np.asarray(seeds), np.full(len(t), UNASSIGNED, np.int64), 0)
    return {"faces": len(t), "identities": len(set(truth)),
            "different_people_similarity": f"{different.mean():.3f} ± {different.std():.3f} (max {different.max():.3f})",
            "same_person_similarity": f"{sims[upper][same].mean():.3f} (min {sims[upper][same].min():.3f})",
            **{k: round(v, 4) for k, v in scores(labels, t.astype(np.int64), DEFAULT_MIN_FACES, np.asarray(seeds)).items()}}  # fmt: skip


def write_index_part(n: int, directory: Path) -> Path:
    """The synthetic library of ``n`` faces as one face-index part, written by the function's part writer (``Rows``)
    once and kept in ``directory`` (run in its own process: its memory is not people's)."""
    import base64

    from ossfaces.indexpart import Rows

    part = directory / f"people-{n}.parquet"
    if part.exists():
        return part
    rows = Rows()
    chunks = library_chunks(n)
    try:
        while True:
            first, vectors, seeds = next(chunks)
            unit = np.asarray(vectors, np.float32)
            unit /= np.linalg.norm(unit, axis=1, keepdims=True)
            data = unit.astype("<f2")
            for j in range(len(unit)):
                rows.add(key=f"p/{first + j:07d}.jpg", result_etag="r", source_etag="e", engine="local/1",
                         gen=1, status="ok", faces=1, face=0, age=30, gender="FEMALE", gender_confidence=0.9,
                         box_left=0, box_top=0, box_width=100, box_height=100, quality=0.9,
                         can_seed=bool(seeds[j]), embedding_model="sface-2021dec-int8bq",
                         embedding=base64.b64encode(data[j].tobytes()).decode())  # fmt: skip
    except StopIteration as done:
        truth, _ = done.value
        np.save(directory / f"people-{n}-truth.npy", truth)
    rows.write_parquet(str(part))
    rows.close()
    return part


def index_child(n: int, directory: Path) -> dict[str, Any]:
    """``people`` at ``n`` faces read from the face index (``faces_from_index``): the part written beforehand by
    :func:`write_index_part` (another process), read and clustered in this one, whose peak RSS is people's."""
    import duckdb

    from ossfaces.heap import keep_large_blocks_mapped
    from ossfaces_tools.index.local import create_views, spill_dir
    from ossfaces_tools.people.faces import faces_from_index

    keep_large_blocks_mapped()  # as the `ossfaces` command does
    part = directory / f"people-{n}.parquet"
    truth = np.load(directory / f"people-{n}-truth.npy")
    load_before = os.getloadavg()
    started = time.perf_counter()
    con = duckdb.connect(config={"memory_limit": "1GB", "temp_directory": str(spill_dir())})  # as IndexReader
    create_views(con, [str(part)], [])
    table = faces_from_index(con)
    con.close()
    read = time.perf_counter() - started
    read_peak = vm_hwm_mb()
    state = PeopleState()
    started = time.perf_counter()
    report = model.update(state, table, ClusterParams(DEFAULT_MAX_DISTANCE, DEFAULT_MIN_FACES))
    clustered = time.perf_counter() - started
    peak = vm_hwm_mb()  # before the scoring below, which is the benchmark's, not people's
    started = time.perf_counter()
    body = state.dumps()  # what `people` saves (StateStore.save): the first run's last step
    (directory / f"people-{n}-state.json").write_bytes(body)
    saved, save_peak = time.perf_counter() - started, vm_hwm_mb()
    del body
    labels = np.asarray([state.photos[table.keys[table.photo[r]]].faces[0] or -1 for r in range(n)], dtype=np.int64)
    seeds = np.asarray(table.can_seed, dtype=bool)
    load = [round(a, 2) for a in (*load_before, *os.getloadavg())]
    return {"faces": n, "source": "index", "people": report.people, "read_s": round(read, 2),
            "cluster_s": round(clustered, 2), "total_min": round((read + clustered) / 60, 2),
            "read_peak_rss_mb": round(read_peak, 1), "peak_rss_mb": round(peak, 1), "save_s": round(saved, 2),
            "save_peak_rss_mb": round(save_peak, 1), "load_1_5_15_before_after": load,
            **{k: round(v, 4) for k, v in scores(labels, truth.astype(np.int64), DEFAULT_MIN_FACES, seeds).items()},
            "peak_rss_with_scoring_mb": round(vm_hwm_mb(), 1)}  # fmt: skip


def index_rerun(n: int, directory: Path) -> dict[str, Any]:
    """The second run of ``people`` on the same faces, in a fresh process: the people file saved by
    :func:`index_child` loaded, the faces read again, the update finds nothing to change."""
    import duckdb

    from ossfaces.heap import keep_large_blocks_mapped
    from ossfaces_tools.index.local import create_views, spill_dir
    from ossfaces_tools.people.faces import faces_from_index

    keep_large_blocks_mapped()  # as the `ossfaces` command does
    started = time.perf_counter()
    state = PeopleState.loads((directory / f"people-{n}-state.json").read_bytes())
    loaded, load_peak = time.perf_counter() - started, vm_hwm_mb()
    started = time.perf_counter()
    con = duckdb.connect(config={"memory_limit": "1GB", "temp_directory": str(spill_dir())})  # as IndexReader
    create_views(con, [str(directory / f"people-{n}.parquet")], [])
    table = faces_from_index(con)
    con.close()
    report = model.update(state, table, ClusterParams(DEFAULT_MAX_DISTANCE, DEFAULT_MIN_FACES))
    return {"faces": n, "second_run": True, "changed": report.changed, "people": report.people,
            "joined": report.joined, "new_people": report.new_people,
            "load_s": round(loaded, 2), "read_and_update_s": round(time.perf_counter() - started, 2),
            "load_peak_rss_mb": round(load_peak, 1), "peak_rss_mb": round(vm_hwm_mb(), 1),
            "load_1_5_15": [round(a, 2) for a in os.getloadavg()]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--real", action="store_true", help="Also the real photos (needs the models and test photos).")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--from-index", type=int, default=None, metavar="FACES",
                        help="Also people at FACES faces read from a face-index part (e.g. 1000000).")  # fmt: skip
    parser.add_argument("--index-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--index-part", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--index-rerun", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--index-dir", type=Path, default=ROOT / ".cache" / "bench-people")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return
    if args.index_part:
        args.index_dir.mkdir(parents=True, exist_ok=True)
        print(write_index_part(args.index_part, args.index_dir))
        return
    if args.index_child:
        print(json.dumps(index_child(args.index_child, args.index_dir)))
        return
    if args.index_rerun:
        print(json.dumps(index_rerun(args.index_rerun, args.index_dir)))
        return
    if args.from_index:
        subprocess.run([sys.executable, __file__, "--index-part", str(args.from_index), "--index-dir",
                        str(args.index_dir)], capture_output=True, text=True, check=True)  # fmt: skip
        print(f"command: {' '.join(sys.argv)}; 2-core machine, shared with other work", flush=True)
        for step in ("--index-child", "--index-rerun"):  # each in its own process: its peak RSS is its own
            done = subprocess.run([sys.executable, __file__, step, str(args.from_index), "--index-dir",
                                   str(args.index_dir)], capture_output=True, text=True, check=True)  # fmt: skip
            print(done.stdout.strip().splitlines()[-1], flush=True)
        return
    print(f"threshold: max cosine distance {DEFAULT_MAX_DISTANCE}, min faces {DEFAULT_MIN_FACES}; 2-core machine, "
          "shared with other work")  # fmt: skip
    results = []
    for n in [int(s) for s in args.sizes.split(",")]:
        done = subprocess.run([sys.executable, __file__, "--child", str(n)], capture_output=True, text=True, check=True)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        results.append(result)
        print(json.dumps(result))
    if len(results) >= 2:
        a, b = results[-2], results[-1]
        scale = 1_000_000 / b["faces"]
        linear = (b["decode_s"] + b["cluster_s"]) * scale
        quadratic = b["decode_s"] * scale + b["cluster_s"] * scale**2  # joining is faces × people, people ∝ faces
        rss = a["peak_rss_mb"] + (b["peak_rss_mb"] - a["peak_rss_mb"]) * (1_000_000 - a["faces"]) / (
            b["faces"] - a["faces"]
        )
        print(f"cost curve: {a['faces']:,} faces {a['decode_s'] + a['cluster_s']:.1f} s, {b['faces']:,} faces "
              f"{b['decode_s'] + b['cluster_s']:.1f} s; 1,000,000 faces extrapolated: {linear / 60:.0f} min (linear) "
              f"to {quadratic / 60:.0f} min (faces × people), ~{rss:,.0f} MB peak RSS (linear in faces)")  # fmt: skip
    if args.real:
        print(json.dumps({"real_photos": real_photos()}))


if __name__ == "__main__":
    main()
