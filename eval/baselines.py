"""The baselines every run measures next to ours: LlamaIndex's default pipeline, and Lead-3 for summaries."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.schema import NodeWithScore

from newsrag.index.articles import Article
from newsrag.index.embedder import SentenceTransformerEmbedding
from newsrag.rag.sentences import SentenceSpan, split_sentences


def lead(text: str, n: int = 3) -> list[SentenceSpan]:
    """The first n sentences (Lead-3 for n=3): the baseline news summarizers are measured against."""
    return split_sentences(text)[:n]


@dataclass
class BaselineAnswer:
    text: str
    cited_article: str | None
    cited_passage: str
    refused: bool = False  # the default pipeline never refuses


class LlamaIndexDefault:
    """What a LlamaIndex quick-start gives: whole articles, default 1024-token chunks, top-2 similarity.

    Without an LLM configured its answer is the passage sentence nearest the question, which is
    the most an LLM-free reading of its top-2 passages can offer.
    """

    name = "llamaindex-default"

    def __init__(
        self, articles: list[Article], embedder: SentenceTransformerEmbedding, top_k: int = 2
    ) -> None:
        self.embedder = embedder
        documents = [Document(id_=a.id, text=a.text, metadata={"title": a.title}) for a in articles]
        self.index = VectorStoreIndex.from_documents(documents, embed_model=embedder)
        self.retriever = self.index.as_retriever(similarity_top_k=top_k)

    def retrieve(self, query: str, top_k: int | None = None) -> list[NodeWithScore]:
        retriever = self.index.as_retriever(similarity_top_k=top_k) if top_k else self.retriever
        return retriever.retrieve(query)

    def answer(self, question: str) -> BaselineAnswer:
        nodes = self.retrieve(question)
        sentences = [(s.text, n) for n in nodes for s in split_sentences(n.node.get_content())]
        if not sentences:
            return BaselineAnswer("", None, "")
        scores = self.embedder.encode([s for s, _ in sentences]) @ np.asarray(
            self.embedder.get_query_embedding(question)
        )
        text, node = sentences[int(np.argmax(scores))]
        return BaselineAnswer(text, node.node.ref_doc_id, node.node.get_content())
