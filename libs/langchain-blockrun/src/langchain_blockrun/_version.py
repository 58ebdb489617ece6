"""The package version (one place for the package and the traces it stamps)."""

__version__ = "0.1.0"
"""The version of langchain-blockrun."""
