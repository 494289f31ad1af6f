"""Qunlive contracts: event models, subjects, streams, and small plumbing.

No business logic lives here (docs/decisions/0001-layout.md).
"""
