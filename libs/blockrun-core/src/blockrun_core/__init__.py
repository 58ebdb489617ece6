"""BlockRun core."""
