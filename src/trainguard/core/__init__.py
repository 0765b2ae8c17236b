"""Shared core: findings, run directories, errors, data sets, the model zoo, training helpers."""
