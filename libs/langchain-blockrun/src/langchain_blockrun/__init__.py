"""LangChain integration for BlockRun (ChatBlockRun arrives with its own issue)."""

__all__: list[str] = []
