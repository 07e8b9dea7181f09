"""The embedder: the eval's cache of embedded texts (the real model's vectors, each distinct text encoded
once, kept between runs) and the one-thread encode of a question's small batches."""

import json
from types import SimpleNamespace

import numpy as np
from sample_data import cnndm_rows

from newsrag.index.embedder import EmbeddingCache, WordPieces

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


# Spaces inside and around words, other whitespace, accents, punctuation, CJK, emoji, control and
# zero-width characters: where a word-at-a-time tokenisation could part from the whole text's.
AWKWARD = [
    "Gary Locke will be confirmed as Kilmarnock’s permanent manager on Friday.",
    "  two  spaces,\ttabs\tand\nnew\n\nlines  ",
    "Café naïve résumé – “quoted” (brackets) [1] e-mail U.S.-led 3,000.5 £330million",
    "日本語のテキスト and emoji 🎉🎉 a\u200bb x\u0301y \x1cctrl\x1fchars\u00a0nbsp",
    "",
]


def test_word_pieces_are_the_tokenizers_own_even_after_a_padded_batch(embedder):
    """count_tokens tokenises a word at a time through a cache (index/embedder.WordPieces); the pieces must
    be those of the whole text, also after sentence-transformers padded and truncated a batch."""
    tokenizer = embedder.model.tokenizer
    embedder.encode(["a short text", "and a much longer one " * 100])  # leaves padding set on the backend
    texts = AWKWARD + [row["text"] for row in cnndm_rows(20)]
    for text in texts + texts:  # the second pass from the cache
        assert embedder.count_tokens(text) == tokenizer.tokenize(text), text[:60]


def test_a_tokenizer_that_is_not_berts_is_asked_for_the_whole_text(embedder):
    """Byte-level BPE marks a word's leading space, so word-at-a-time pieces would differ: no cache for it."""
    bert = embedder.model.tokenizer.backend_tokenizer
    assert WordPieces.of(embedder.model.tokenizer) is not None
    config = json.loads(bert.to_str())
    config["pre_tokenizer"] = {
        "type": "ByteLevel",
        "add_prefix_space": False,
        "trim_offsets": True,
        "use_regex": True,
    }
    byte_level = type(bert).from_str(json.dumps(config))
    assert (
        WordPieces.of(SimpleNamespace(backend_tokenizer=byte_level)) is None
    )  # what .of reads of a tokenizer


def test_a_large_batch_is_encoded_in_batches_of_like_length_and_returned_in_order(embedder):
    """Batches sorted by word pieces pad less than sentence-transformers' sort by characters; the
    vectors must still be the model's own, each in its text's place."""
    texts = [row["text"][: 40 + 90 * (k % 7)] for k, row in enumerate(cnndm_rows(40))] + AWKWARD[:4]
    lengths = [min(len(embedder.count_tokens(t)), embedder.max_tokens) for t in texts]
    batches = embedder._batches_by_length(texts)
    assert len(batches) > 2  # several batches, so that their order and the vectors' places are tested
    assert sorted(i for batch in batches for i in batch) == list(range(len(texts)))
    assert all(len(batch) == embedder._batch_size for batch in batches[:-1])
    in_order = [lengths[i] for batch in batches for i in batch]
    assert in_order == sorted(lengths, reverse=True)

    bare = embedder.model.encode(texts, batch_size=embedder._batch_size, normalize_embeddings=True)
    np.testing.assert_allclose(embedder.encode(texts), bare, atol=1e-5)
