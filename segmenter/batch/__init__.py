"""Batch jobs over crawl dumps: readers (WARC/WET/JSONL/folders) -> process_record -> stories -> JSONL.

Modules: ``readers`` (inputs -> Records), ``process`` (the pure per-record function shared by the
local workers and Spark), ``stories`` (signatures, band buckets, verified pairs, assign_clusters),
``run`` (the resumable local pipeline), ``spark`` (the PySpark job), ``cli`` (``run``, ``spark``).
"""
