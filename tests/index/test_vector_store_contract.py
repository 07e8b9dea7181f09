"""The vector-store contract, held by every backend: FAISS in memory and Milvus (Milvus Lite in a temp dir).

Real vectors of real sentences from the bundled embedder; after every change each store is compared
with a plain model of what it should hold ({node id: (article id, vector)}): its length, node ids,
articles, the article of each chunk, and a query over everything, which must give the model's
inner products (cosines of normalised vectors) in descending order.
"""

from __future__ import annotations

import itertools
import json
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import BasePydanticVectorStore, VectorStoreQuery

from newsrag.errors import IndexMismatchError, VectorStoreUnavailableError
from newsrag.index import milvus_store
from newsrag.index.milvus_store import MilvusArticleStore
from newsrag.index.vector_store import FaissArticleStore, new_faiss_index

# The article id is one a feed or a JSON input may give: quotes and a backslash must not break a filter.
ODD = 'O\'Brien "quoted" \\ 2015'
ARTICLES = {
    "quake": [
        "A magnitude 7.8 earthquake struck Nepal on Saturday, flattening buildings in Kathmandu and killing thousands.",
        "Rescue teams from India and China flew into Kathmandu to dig survivors out of the rubble.",
        "Avalanches set off by the quake swept through Everest base camp, where climbers were preparing to ascend.",
    ],
    "race": [
        "Lewis Hamilton won the Chinese Grand Prix in Shanghai, finishing ahead of his Mercedes teammate Nico Rosberg.",
        "Sebastian Vettel took third place for Ferrari after a late battle over tyre strategy.",
    ],
    "ice": [
        "The government is pulling 700 immigration officers out of Minneapolis, the border czar Tom Homan said.",
        "The mayor of Minneapolis said the city would keep its policies on cooperating with federal agents.",
    ],
    ODD: ["A sourdough loaf needs flour, water, salt and a starter left to ferment overnight before baking."],
}
# Each question and the chunk that answers it.
QUESTIONS = {
    "How many people died when the earthquake hit Nepal?": "quake#0",
    "Which countries sent rescuers to Kathmandu?": "quake#1",
    "What happened to the climbers on Mount Everest?": "quake#2",
    "Who won the Formula One race in Shanghai?": "race#0",
    "Who finished third for Ferrari?": "race#1",
    "How many immigration officers are leaving Minneapolis?": "ice#0",
    "What did the mayor say about federal agents?": "ice#1",
    "How do you bake sourdough bread?": f"{ODD}#0",
}
DIMENSION = 384


@dataclass(frozen=True)
class Corpus:
    chunks: dict[str, tuple[str, list[float]]]  # node id: (article id, vector)
    questions: dict[str, list[float]]  # question: its query vector
    other: dict[str, list[float]]  # node id: a second vector (another sentence) to replace it with


@pytest.fixture(scope="module")
def corpus(embedder) -> Corpus:
    ids = [(article, f"{article}#{i}") for article, texts in ARTICLES.items() for i in range(len(texts))]
    vectors = embedder.get_text_embedding_batch([t for texts in ARTICLES.values() for t in texts])
    assert len(vectors[0]) == DIMENSION
    chunks = {node_id: (article, vector) for (article, node_id), vector in zip(ids, vectors, strict=True)}
    questions = {q: embedder.get_query_embedding(q) for q in QUESTIONS}
    other = {
        "race#1": embedder.get_text_embedding("Oil prices fell after the cartel agreed to pump more crude.")
    }
    return Corpus(chunks, questions, other)


def node(node_id: str, article: str, vector: list[float]) -> TextNode:
    return TextNode(
        id_=node_id,
        text="(the text lives in the docstore)",
        embedding=vector,
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=article)},
    )


def nodes_of(model: dict[str, tuple[str, list[float]]]) -> list[TextNode]:
    return [node(node_id, article, vector) for node_id, (article, vector) in model.items()]


@pytest.fixture(scope="module")
def milvus_uri(tmp_path_factory) -> str:
    """One Milvus Lite file for the module (its server starts once); each test gets its own collection."""
    return str(tmp_path_factory.mktemp("milvus") / "vectors.milvus.db")


_collections = itertools.count()


@pytest.fixture(params=["faiss", "faiss-hnsw", "milvus"])
def store(request, milvus_uri) -> Iterator[BasePydanticVectorStore]:
    """An empty store of each backend (FAISS with each index type it writes: exact, and HNSW)."""
    if request.param.startswith("faiss"):
        kind = "hnsw" if request.param == "faiss-hnsw" else "flat"
        yield FaissArticleStore(dimension=DIMENSION, index=new_faiss_index(DIMENSION, kind))
        return
    milvus = MilvusArticleStore(
        uri=milvus_uri, collection=f"contract_{next(_collections)}", dimension=DIMENSION
    )
    yield milvus
    milvus.close()


def ranked(
    model: dict[str, tuple[str, list[float]]], query: list[float], allowed=None
) -> list[tuple[str, float]]:
    """What a store holding `model` must answer: every (allowed) chunk by inner product, highest first."""
    scores = [
        (node_id, float(np.dot(vector, query)))
        for node_id, (_, vector) in model.items()
        if allowed is None or node_id in allowed
    ]
    return sorted(scores, key=lambda pair: -pair[1])


def ask(store, vector, top_k: int, allowed=None) -> list[tuple[str, float]]:
    result = store.query(VectorStoreQuery(query_embedding=vector, similarity_top_k=top_k, node_ids=allowed))
    assert len(result.ids or []) == len(result.similarities or [])
    return list(zip(result.ids or [], result.similarities or [], strict=True))


def assert_same_ranking(got: list[tuple[str, float]], expected: list[tuple[str, float]]) -> None:
    assert [n for n, _ in got] == [n for n, _ in expected]
    assert [s for _, s in got] == pytest.approx([s for _, s in expected], abs=1e-5)


def assert_holds(store, model: dict[str, tuple[str, list[float]]], gone: tuple[str, ...] = ()) -> None:
    """The store holds exactly `model`; the chunks in `gone` are nowhere in it."""
    assert len(store) == len(model)
    assert sorted(store.node_ids()) == sorted(model)
    assert sorted(store.article_ids()) == sorted({article for article, _ in model.values()})
    for node_id, (article, _) in model.items():
        assert store.article_of(node_id) == article
    for node_id in gone:
        assert store.article_of(node_id) is None
    probe = next(iter(model.values()))[1] if model else [1.0] + [0.0] * (DIMENSION - 1)
    assert_same_ranking(ask(store, probe, top_k=len(model) + 5), ranked(model, probe))


def test_the_nearest_chunk_is_the_one_the_question_is_about(store, corpus):
    model = dict(corpus.chunks)
    assert store.add(nodes_of(model)) == list(model)
    assert_holds(store, model)
    for question, answer in QUESTIONS.items():
        vector = corpus.questions[question]
        hits = ask(store, vector, top_k=3)
        assert hits[0][0] == answer, question
        assert_same_ranking(hits, ranked(model, vector)[:3])
        similarities = [s for _, s in hits]
        assert similarities == sorted(similarities, reverse=True)
        assert all(-1.0 - 1e-5 <= s <= 1.0 + 1e-5 for s in similarities)


def test_an_empty_store_and_an_empty_query_find_nothing(store, corpus):
    assert_holds(store, {})
    assert ask(store, corpus.questions[next(iter(QUESTIONS))], top_k=5) == []
    assert store.add([]) == []
    store.add(nodes_of(corpus.chunks))
    assert store.query(VectorStoreQuery(query_embedding=None, similarity_top_k=5)).ids == []


def test_a_node_stored_again_is_replaced_not_duplicated(store, corpus):
    model = dict(corpus.chunks)
    store.add(nodes_of(model))
    old = model["race#1"][1]
    model["race#1"] = ("race", corpus.other["race#1"])
    store.add([node("race#1", "race", corpus.other["race#1"])])
    assert_holds(store, model)
    assert ask(store, corpus.other["race#1"], top_k=1)[0] == ("race#1", pytest.approx(1.0, abs=1e-5))
    # The old vector is gone: the chunk now scores against it as the new sentence does, not 1.0.
    (score,) = [s for n, s in ask(store, old, top_k=len(model)) if n == "race#1"]
    assert score == pytest.approx(float(np.dot(old, corpus.other["race#1"])), abs=1e-5)
    assert score < 0.9
    # Stored again under another article: filed under that one only, and an article left empty is gone.
    model[f"{ODD}#0"] = ("moved", model[f"{ODD}#0"][1])
    store.add([node(f"{ODD}#0", "moved", model[f"{ODD}#0"][1])])
    assert_holds(store, model)
    assert ODD not in store.article_ids()
    if isinstance(store, MilvusArticleStore):
        # Milvus Lite keeps the last row of a key even on insert, so the checks above pass either way;
        # a Milvus server keeps both rows of an insert: the store must upsert.
        assert store._milvus.upsert_mode


def test_deleting_an_article_removes_all_its_chunks_and_only_those(store, corpus):
    model = dict(corpus.chunks)
    store.add(nodes_of(model))
    store.delete("quake")
    gone = tuple(n for n in model if n.startswith("quake#"))
    for node_id in gone:
        del model[node_id]
    assert_holds(store, model, gone=gone)
    for question, answer in QUESTIONS.items():
        hits = ask(store, corpus.questions[question], top_k=len(corpus.chunks))
        assert not set(gone) & {n for n, _ in hits}
        if not answer.startswith("quake#"):
            assert hits[0][0] == answer
    store.delete(ODD)  # quotes and a backslash in the id delete that article, nothing else
    del model[f"{ODD}#0"]
    assert_holds(store, model, gone=(*gone, f"{ODD}#0"))
    store.delete("no such article")
    assert_holds(store, model)
    store.add(nodes_of({n: corpus.chunks[n] for n in gone}))  # an article can come back
    model.update({n: corpus.chunks[n] for n in gone})
    assert_holds(store, model)


def test_delete_nodes_removes_exactly_those_chunks(store, corpus):
    model = dict(corpus.chunks)
    store.add(nodes_of(model))
    store.delete_nodes(["quake#1", "ice#0", "ice#1", "never stored"])
    for node_id in ("quake#1", "ice#0", "ice#1"):
        del model[node_id]
    assert_holds(store, model, gone=("quake#1", "ice#0", "ice#1"))
    assert "ice" not in store.article_ids() and "quake" in store.article_ids()
    store.delete_nodes([])
    store.delete_nodes([f"{ODD}#0"])
    del model[f"{ODD}#0"]
    assert_holds(store, model, gone=(f"{ODD}#0",))
    store.delete("quake")  # what delete_nodes left of an article still goes with it
    assert_holds(store, {n: v for n, v in model.items() if v[0] != "quake"}, gone=("quake#0", "quake#2"))


def test_an_allow_list_returns_only_allowed_chunks(store, corpus):
    model = dict(corpus.chunks)
    store.add(nodes_of(model))
    vector = corpus.questions["How many people died when the earthquake hit Nepal?"]
    allowed = ["race#0", "ice#1", f"{ODD}#0", "quake#2"]
    hits = ask(store, vector, top_k=10, allowed=allowed)
    assert_same_ranking(hits, ranked(model, vector, allowed))
    assert hits[0][0] == "quake#2"  # the best allowed chunk, though quake#0 is nearer
    assert_same_ranking(ask(store, vector, top_k=2, allowed=allowed), ranked(model, vector, allowed)[:2])
    # Ids the store does not hold are ignored; an allow-list of only those, or an empty one, finds nothing.
    assert_same_ranking(
        ask(store, vector, top_k=10, allowed=["race#1", "not stored"]), ranked(model, vector, ["race#1"])
    )
    assert ask(store, vector, top_k=10, allowed=["not stored"]) == []
    assert ask(store, vector, top_k=10, allowed=[]) == []
    store.delete("race")
    del model["race#0"], model["race#1"]
    assert_same_ranking(ask(store, vector, top_k=10, allowed=allowed), ranked(model, vector, allowed))
    assert ask(store, vector, top_k=10, allowed=["race#0", "race#1"]) == []


def test_milvus_lists_and_deletes_across_pages(milvus_uri, corpus, monkeypatch):
    """A listing or a delete bigger than one page or one expression; the odd id sits on a page boundary."""
    monkeypatch.setattr(milvus_store, "PAGE", 2)
    monkeypatch.setattr(milvus_store, "IDS_PER_EXPRESSION", 3)
    store = MilvusArticleStore(uri=milvus_uri, collection=f"pages_{next(_collections)}", dimension=DIMENSION)
    try:
        model = dict(corpus.chunks)
        store.add(nodes_of(model))
        assert_holds(store, model)
        doomed = ["ice#0", f"{ODD}#0", "quake#0", "quake#2", "race#1"]
        store.delete_nodes(doomed)
        assert_holds(store, {n: v for n, v in model.items() if n not in doomed}, gone=tuple(doomed))
    finally:
        store.close()


def test_a_second_milvus_store_on_the_same_collection_sees_the_data(milvus_uri, corpus):
    collection = f"shared_{next(_collections)}"
    first = MilvusArticleStore(uri=milvus_uri, collection=collection, dimension=DIMENSION)
    second = None
    try:
        model = dict(corpus.chunks)
        first.add(nodes_of(model))
        second = MilvusArticleStore(uri=milvus_uri, collection=collection, dimension=DIMENSION)
        assert_holds(second, model)
        first.delete("quake")  # a write through one is seen by the other at once (Strong consistency)
        model = {n: v for n, v in model.items() if v[0] != "quake"}
        assert_holds(second, model)
        second.add([node("quake#0", *corpus.chunks["quake#0"])])
        model["quake#0"] = corpus.chunks["quake#0"]
        assert_holds(first, model)
    finally:
        first.close()
        if second is not None:
            second.close()


WRITER = textwrap.dedent(
    """
    import json, os, signal, sys
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
    from newsrag.index.milvus_store import MilvusArticleStore

    uri, rows, ending = sys.argv[1], json.loads(open(sys.argv[2]).read()), sys.argv[3]
    store = MilvusArticleStore(uri=uri, collection="archive", dimension=len(rows[0][2]))
    store.add([
        TextNode(id_=n, embedding=v, relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=a)})
        for n, a, v in rows
    ])
    store.delete_nodes(["quake#1"])
    if ending == "killed":
        os.kill(os.getpid(), signal.SIGKILL)
    store.close()
    """
)


@pytest.mark.parametrize("ending", ["exits", "killed"])
def test_a_milvus_lite_file_keeps_what_another_process_wrote(tmp_path, corpus, ending):
    """Written by a process that exits (or is killed right after its last write), read back by this one."""
    uri = str(tmp_path / "archive" / "vectors.milvus.db")  # a folder that does not exist yet
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps([[n, a, v] for n, (a, v) in corpus.chunks.items()]))
    done = subprocess.run(
        [sys.executable, "-c", WRITER, uri, str(rows), ending], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == (-9 if ending == "killed" else 0), done.stderr
    store = MilvusArticleStore(uri=uri, collection="archive", dimension=DIMENSION)
    try:
        assert_holds(store, {n: v for n, v in corpus.chunks.items() if n != "quake#1"}, gone=("quake#1",))
        question = "Who won the Formula One race in Shanghai?"
        assert ask(store, corpus.questions[question], top_k=1)[0][0] == QUESTIONS[question]
    finally:
        store.close()


def test_a_milvus_collection_of_other_vectors_is_refused(milvus_uri, corpus):
    collection = f"dim_{next(_collections)}"
    MilvusArticleStore(uri=milvus_uri, collection=collection, dimension=DIMENSION).close()
    with pytest.raises(IndexMismatchError, match=r"holds 384-d vectors, the embedder makes 768-d"):
        MilvusArticleStore(uri=milvus_uri, collection=collection, dimension=768)


def test_a_milvus_lite_file_open_in_another_process_is_a_clear_error(milvus_uri):
    """Milvus Lite serves a file to one process; a second one gets a typed error saying what to do."""
    MilvusArticleStore(uri=milvus_uri, collection=f"lock_{next(_collections)}", dimension=DIMENSION).close()
    code = (
        "import sys\n"
        "from newsrag.errors import VectorStoreUnavailableError\n"
        "from newsrag.index.milvus_store import MilvusArticleStore\n"
        "try:\n"
        f"    MilvusArticleStore(uri={milvus_uri!r}, collection='other', dimension=4)\n"
        "except VectorStoreUnavailableError as exc:\n"
        "    print(exc); sys.exit(3)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "to one process at a time" in done.stdout and milvus_uri in done.stdout


def test_a_milvus_server_that_is_down_is_a_clear_error():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(VectorStoreUnavailableError, match=rf"at http://127.0.0.1:{port}: .*server is up"):
        MilvusArticleStore(uri=f"http://127.0.0.1:{port}", dimension=DIMENSION)


def test_milvus_keeps_no_text(milvus_uri, corpus):
    """Only vectors and article ids leave the machine through this store; the text stays in the docstore."""
    store = MilvusArticleStore(uri=milvus_uri, collection=f"text_{next(_collections)}", dimension=DIMENSION)
    try:
        store.add(nodes_of(corpus.chunks))
        rows = store.client.query(
            store.collection, filter='id == "quake#0"', output_fields=["text", "_node_content"]
        )
        assert rows[0]["text"] == "" and "the text lives" not in rows[0]["_node_content"]
    finally:
        store.close()
