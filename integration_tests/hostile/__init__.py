"""Tests against a hostile gateway: every trick refused, nothing signed beyond the policy."""
