"""Story deduplication: near-identical texts from many feeds merged into one story.

Pure pieces (shared by the CLI, the HTTP API, the batch and Spark jobs):
``signatures`` / ``bulk_signatures`` (MinHash, identical to datasketch), ``band_keys`` (LSH),
``verify`` / ``verified_pairs`` (candidate verification), ``assign_clusters`` (union-find with the
no-chaining rule) and ``cluster`` (all of them over a collection). Persistent: ``StoryIndex`` over
a ``Storage`` (``SQLiteStore`` by default).
"""
from .cluster import bulk_signatures, cluster, verified_pairs
from .config import DedupConfig
from .document import Document
from .index import AddResult, StoryIndex
from .lsh import band_keys, bucket_pairs, candidate_pairs
from .match import ClusterAssignment, assign_clusters, choose_story, decide, verify, verify_exact
from .minhash import signatures, signatures_and_sizes, sketch, to_minhash
from .shingles import normalize, shingle_hash32, shingles
from .sqlite import SQLiteStore
from .store import ConfigMismatch, Member, Storage, Story

__all__ = [
    "AddResult", "ClusterAssignment", "ConfigMismatch", "DedupConfig", "Document", "Member", "SQLiteStore",
    "Storage", "Story", "StoryIndex", "assign_clusters", "band_keys", "bucket_pairs", "bulk_signatures",
    "candidate_pairs", "choose_story", "cluster", "decide", "normalize", "shingle_hash32", "shingles",
    "signatures", "signatures_and_sizes", "sketch", "to_minhash", "verified_pairs", "verify", "verify_exact",
]
