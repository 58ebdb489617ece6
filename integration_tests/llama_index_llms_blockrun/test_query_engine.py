"""A VectorStoreIndex query engine answering from documents with Settings.llm = BlockRunLLM.

Offline: mock embeddings, a local tokenizer, no NLTK (token splitting), loopback gateway.
"""

from __future__ import annotations

import pytest
from blockrun_core.testing import LocalGateway
from llama_index.core import Document, MockEmbedding, Settings, VectorStoreIndex
from llama_index.core.node_parser import TokenTextSplitter

from integration_tests.llama_index_llms_blockrun.conftest import MakeLLM

DOCUMENTS = [
    Document(text="Barn owls hunt voles at night over open fields."),
    Document(text="The snowy owl nests on the Arctic tundra."),
]


@pytest.fixture
def index(make_llm: MakeLLM) -> VectorStoreIndex:
    Settings.llm = make_llm("auto")
    Settings.embed_model = MockEmbedding(embed_dim=8)
    Settings.node_parser = TokenTextSplitter(chunk_size=64, chunk_overlap=0)
    return VectorStoreIndex.from_documents(DOCUMENTS)


def test_the_query_engine_answers_from_the_documents(
    gw: LocalGateway, index: VectorStoreIndex
) -> None:
    response = index.as_query_engine(similarity_top_k=2).query("What do barn owls hunt?")
    # the gateway's model echoes its prompt: the retrieved documents reached the LLM
    answer = str(response)
    assert "Barn owls hunt voles at night" in answer and "snowy owl" in answer
    assert "What do barn owls hunt?" in answer
    assert len(response.source_nodes) == 2
    [payment] = gw.payments
    assert payment.payer and payment.model  # routed by "auto" to a paid model, paid once


def test_a_streaming_query_engine(gw: LocalGateway, index: VectorStoreIndex) -> None:
    response = index.as_query_engine(streaming=True).query("Where does the snowy owl nest?")
    pieces = list(response.response_gen)  # type: ignore[union-attr]
    assert len(pieces) > 3 and "Arctic tundra" in "".join(pieces)
    assert len(gw.payments) == 1 and gw.payments[0].stream


async def test_an_async_query(gw: LocalGateway, index: VectorStoreIndex) -> None:
    response = await index.as_query_engine().aquery("What do barn owls hunt?")
    assert "voles" in str(response) and len(gw.payments) == 1
