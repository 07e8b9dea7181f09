"""The filter index finds exactly the chunks `Filters.accepts` admits, for every kind of filter."""

import itertools

from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

from newsrag.rag.filters import ChunkFilterIndex, Filters

DATES = ["2015-03-01T10:00:00", "2015-03-02", "2015-03-02T23:59:00", "2016-01-01", "", None]
SOURCES = ["CNN", "Daily Mail", "", None]


def chunks() -> list[TextNode]:
    out = []
    for k, (date, source) in enumerate(itertools.product(DATES, SOURCES)):
        for part in range(2):
            node = TextNode(text=f"chunk {k}.{part}", id_=f"c{k}-{part}")
            node.metadata = {"published_at": date, "source": source}
            node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=f"a{k}")
            out.append(node)
    return out


def test_positions_are_the_chunks_each_filter_accepts():
    nodes = chunks()
    index = ChunkFilterIndex(nodes)
    bounds = [None, "2015-03-02", "2015-03-01", "2016-01-01", "2014-12-31", "2017-01-01"]
    choices = [(), ("CNN",), ("CNN", "Daily Mail"), ("",), ("Reuters",)]
    articles = [(), ("a0",), ("a3", "a7", "nope")]
    tried = 0
    for date_from, date_to, sources, ids in itertools.product(bounds, bounds, choices, articles):
        filters = Filters(sources=sources, date_from=date_from, date_to=date_to, article_ids=ids)
        expected = [k for k, node in enumerate(nodes) if filters.accepts(node)]
        assert index.positions(filters).tolist() == expected, filters
        tried += bool(expected)
    assert tried > 100  # most combinations admit something, so the comparison is not of empty lists
