"""The change feed: what changed in the notebooks a caller may see, in commit order."""
