"""Ingest benchmark: our pipeline vs bare SentenceTransformer.encode of the same chunks, in one run.

    python -m newsrag.eval.scripts.bench_ingest

Prints: full ingest of the bundled sample corpus (seconds, chunks/s), the bare encode of the
same chunk texts (the ceiling), the overhead, and the time to add one new article to the
built 251-article index (vs ingesting that article alone into an empty index).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from llama_index.core.schema import MetadataMode

from newsrag.data import SAMPLE_CORPUS
from newsrag.index.catalog import Catalog
from newsrag.index.embedder import SentenceTransformerEmbedding
from newsrag.index.ingest import ingest
from newsrag.index.storage import load_snapshot
from newsrag.settings import Settings

NEW_ARTICLE = {
    "id": "bench-new-article",
    "title": "Harbour ferry timetable changes from Monday",
    "source": "Benchmark Gazette",
    "text": " ".join(
        f"The harbour ferry will run every {n} minutes on weekdays from Monday, the transport office said in "
        f"a statement on its {n}th service review, adding that night crossings would follow later."
        for n in range(10, 40)
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    embedder = SentenceTransformerEmbedding()
    embedder.encode(["warm up the model"])
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(index_dir=Path(tmp) / "index")
        report = ingest(settings, [str(SAMPLE_CORPUS)], embedder)
        chunks = Catalog(load_snapshot(settings.index_dir)).chunks()
        texts = [c.get_content(metadata_mode=MetadataMode.EMBED) for c in chunks]
        started = time.perf_counter()
        embedder.model.encode(texts, batch_size=64, normalize_embeddings=True)
        bare = time.perf_counter() - started

        new_file = Path(tmp) / "new.jsonl"
        new_file.write_text(json.dumps(NEW_ARTICLE) + "\n")
        add_one = ingest(settings, [str(new_file)], embedder)
        alone = ingest(settings.replace(index_dir=Path(tmp) / "alone"), [str(new_file)], embedder)
        unchanged = ingest(settings, [str(SAMPLE_CORPUS)], embedder)

    n = report.chunks_written
    print(f"sample corpus: {len(report.new)} articles, {n} chunks")
    print(f"newsrag ingest            {report.seconds:7.1f} s  {n / report.seconds:6.1f} chunks/s")
    print(f"bare encode (ceiling)     {bare:7.1f} s  {n / bare:6.1f} chunks/s")
    print(f"overhead over the ceiling {report.seconds / bare - 1:7.1%}")
    print(
        f"add 1 article to the 251-article index: {add_one.seconds:.2f} s ({add_one.chunks_written} chunks)"
    )
    print(f"the same article into an empty index:   {alone.seconds:.2f} s")
    print(f"re-ingest unchanged corpus:             {unchanged.seconds:.2f} s ({unchanged.summary()})")


if __name__ == "__main__":
    main()
