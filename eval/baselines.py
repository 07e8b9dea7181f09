"""The baselines every run measures next to ours: LlamaIndex as quick-started and as tuned, and Lead-3 for summaries."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.postprocessor import SentenceEmbeddingOptimizer
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import NodeWithScore, QueryBundle

from newsrag.index.articles import Article
from newsrag.index.embedder import SentenceTransformerEmbedding
from newsrag.rag.sentences import SentenceSpan, split_sentences


def lead(text: str, n: int = 3) -> list[SentenceSpan]:
    """The first n sentences (Lead-3 for n=3): the baseline news summarizers are measured against."""
    return split_sentences(text)[:n]


@dataclass
class BaselineAnswer:
    """The reply, and the articles and whole retrieved passages its sentences come from."""

    text: str
    cited_articles: list[str]
    cited_passages: list[str]
    refused: bool = False  # neither pipeline ever refuses


class LlamaIndexBaseline:
    """A LlamaIndex `VectorStoreIndex` over whole articles, answered without an LLM.

    Without an LLM the most its retrieved passages can give is their sentences nearest the question
    (by cosine, as `SentenceEmbeddingOptimizer` ranks them); `answer_sentences` of them form the reply.
    """

    def __init__(
        self,
        name: str,
        articles: list[Article],
        embedder: SentenceTransformerEmbedding,
        *,
        top_k: int,
        answer_sentences: int,
        splitter: SentenceSplitter | None = None,
        postprocessor: BaseNodePostprocessor | None = None,
    ) -> None:
        self.name = name
        self.embedder = embedder
        self.top_k = top_k
        self.answer_sentences = answer_sentences
        self.postprocessor = postprocessor
        documents = [Document(id_=a.id, text=a.text, metadata={"title": a.title}) for a in articles]
        transformations = [splitter] if splitter is not None else None
        self.index = VectorStoreIndex.from_documents(
            documents, embed_model=embedder, transformations=transformations
        )

    def retrieve(self, query: str, top_k: int | None = None) -> list[NodeWithScore]:
        return self.index.as_retriever(similarity_top_k=top_k or self.top_k).retrieve(query)

    def answer(self, question: str) -> BaselineAnswer:
        bundle = QueryBundle(question, embedding=self.embedder.get_query_embedding(question))
        nodes = self.index.as_retriever(similarity_top_k=self.top_k).retrieve(bundle)
        if not nodes:
            return BaselineAnswer("", [], [])
        shortened = nodes
        if self.postprocessor is not None:  # it rewrites node texts: keep the retrieved passages intact
            shortened = self.postprocessor.postprocess_nodes(copy.deepcopy(nodes), bundle)
        sentences = [
            (s.text, k) for k, n in enumerate(shortened) for s in split_sentences(n.node.get_content())
        ]
        if not sentences:
            return BaselineAnswer("", [], [])
        scores = self.embedder.encode([s for s, _ in sentences]) @ np.asarray(bundle.embedding)
        best = np.argsort(-scores)[: self.answer_sentences]
        cited = [nodes[k].node for k in dict.fromkeys(sentences[int(i)][1] for i in best)]
        return BaselineAnswer(
            " ".join(sentences[int(i)][0] for i in best),
            [n.ref_doc_id or "" for n in cited],
            [n.get_content() for n in cited],
        )


def llamaindex_default(articles: list[Article], embedder: SentenceTransformerEmbedding) -> LlamaIndexBaseline:
    """The quick-start, literally: 1024-token chunks (the embedder reads 256 word pieces of each), top-2,
    the one nearest sentence."""
    return LlamaIndexBaseline("llamaindex-default", articles, embedder, top_k=2, answer_sentences=1)


def llamaindex_tuned(
    articles: list[Article], embedder: SentenceTransformerEmbedding, top_k: int = 6, answer_sentences: int = 3
) -> LlamaIndexBaseline:
    """As a competent user would set it up: chunks sized in the embedder's own word pieces so none is
    truncated, the same top-k and answer length as ours, and LlamaIndex's sentence-level postprocessing."""
    splitter = SentenceSplitter(
        chunk_size=embedder.max_tokens, chunk_overlap=32, tokenizer=embedder.count_tokens
    )
    optimizer = SentenceEmbeddingOptimizer(
        embed_model=embedder, percentile_cutoff=0.5, context_before=0, context_after=0
    )
    return LlamaIndexBaseline(
        "llamaindex-tuned",
        articles,
        embedder,
        top_k=top_k,
        answer_sentences=answer_sentences,
        splitter=splitter,
        postprocessor=optimizer,
    )


BASELINES = {"llamaindex-default": llamaindex_default, "llamaindex-tuned": llamaindex_tuned}
