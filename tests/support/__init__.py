"""Helpers shared by the test tiers: real git repositories, free ports, process servers."""
