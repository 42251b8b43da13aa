"""Datasets the task composes: MLM blocks, TLM pairs and paired views, and the batch that joins them."""
