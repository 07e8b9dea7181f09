"""The embedder: the eval's cache of embedded texts (the real model's vectors, each distinct text encoded
once, kept between runs) and the one-thread encode of a question's small batches."""

import numpy as np

from newsrag.index.embedder import EmbeddingCache

TEXTS = [
    "The ferry runs every ten minutes.",
    "Tram drivers strike on Friday.",
    "The ferry runs every ten minutes.",
]


def test_cached_vectors_are_the_embedders_and_survive_a_reload(tmp_path, embedder):
    direct = embedder.encode(TEXTS)
    path = tmp_path / "cache" / embedder.cache_name
    encoded: list[list[str]] = []

    def counting(texts: list[str]) -> np.ndarray:
        encoded.append(texts)
        return embedder.encode(texts)

    cache = EmbeddingCache(path)
    first = cache.encode(TEXTS, counting)
    assert encoded == [TEXTS[:2]]  # the repeated text is encoded once
    np.testing.assert_allclose(first, direct, atol=1e-5)
    cache.save()

    reloaded = EmbeddingCache(path)
    again = reloaded.encode(TEXTS[::-1], counting)
    assert len(encoded) == 1 and (reloaded.hits, reloaded.misses) == (3, 0)
    np.testing.assert_allclose(again, direct[::-1], atol=1e-5)


def test_the_embedder_serves_from_the_cache_only_while_told(tmp_path, embedder):
    cache = EmbeddingCache(tmp_path / embedder.cache_name)
    embedder.use_cache(cache)
    try:
        embedder.encode(TEXTS)
        embedder.encode(TEXTS[:1])
    finally:
        embedder.use_cache(None)
    embedder.encode(TEXTS)
    assert (cache.hits, cache.misses) == (2, 2)
    assert not (tmp_path / embedder.cache_name).exists()  # nothing is written until save()


def test_a_questions_encode_takes_one_thread_and_an_ingest_batch_every_thread(embedder):
    import threading

    import torch

    from newsrag.index.embedder import torch_threads

    before = torch.get_num_threads()
    embedder.encode(TEXTS)
    assert torch.get_num_threads() == before
    seen: list[int] = []
    with torch_threads(1):
        seen.append(torch.get_num_threads())
        started = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
        started.start()
        started.join()
    assert seen == [1, 1] and torch.get_num_threads() == before  # a thread started meanwhile inherits 1

    assert embedder._threads == before  # what a large (ingest) batch runs on, wherever it is called
