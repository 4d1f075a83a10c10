"""Stories for batch jobs (placeholder until segmenter.dedup lands)."""
