"""The live snapshot's vectors read from its files with json and FAISS alone, not through the storage code."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import faiss


@dataclass
class LiveVectors:
    nodes: dict[str, int]  # chunk id -> FAISS id
    articles: dict[str, list[str]]  # article id -> its chunk ids
    in_faiss: set[int]  # the FAISS ids of live chunks found in their segments' vectors.faiss


def live_vectors(index_dir: Path) -> LiveVectors:
    """Replay the segments CURRENT's snapshot lists: each one's removals, then its id map and vectors."""
    live = index_dir / (index_dir / "CURRENT").read_text().strip()
    names = [s["name"] for s in json.loads((live / "segments.json").read_text())["segments"]]
    nodes: dict[str, int] = {}
    article_of: dict[str, str] = {}
    held: dict[str, set[int]] = {}  # segment -> FAISS ids in its file
    segment_of: dict[str, str] = {}
    for name in names:
        folder = index_dir / "segments" / name
        for key in json.loads((folder / "removed.json").read_text()).get("docstore/data", []):
            nodes.pop(key, None)
        ids = json.loads((folder / "vector_ids.json").read_text())
        index = faiss.read_index(str(folder / "vectors.faiss"))
        held[name] = set(faiss.vector_to_array(index.id_map).tolist())
        assert index.ntotal == len(ids["nodes"]), (
            f"{name}: {index.ntotal} vectors for {len(ids['nodes'])} ids"
        )
        for article_id, chunk_ids in ids["articles"].items():
            for chunk_id in chunk_ids:
                article_of[chunk_id] = article_id
        for chunk_id, faiss_id in ids["nodes"].items():
            nodes[chunk_id] = faiss_id
            segment_of[chunk_id] = name
    articles: dict[str, list[str]] = {}
    for chunk_id in nodes:
        articles.setdefault(article_of[chunk_id], []).append(chunk_id)
    in_faiss = {f for c, f in nodes.items() if f in held[segment_of[c]]}
    return LiveVectors(nodes, articles, in_faiss)
