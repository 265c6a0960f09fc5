"""Wheels: the audit (`check`), its checks, its results, and `repair` (auditwheel driven through its
command line, strip, prune, re-pack)."""
