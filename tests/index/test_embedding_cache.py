"""The eval's embedding cache: the real embedder's vectors, each distinct text encoded once, kept between runs."""

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
