"""Loading checkpoints for evaluation, and the plots the evaluation commands write."""
