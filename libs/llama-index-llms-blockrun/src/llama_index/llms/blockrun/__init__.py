"""LlamaIndex integration for BlockRun (BlockRunLLM arrives with its own issue)."""

__all__: list[str] = []
