"""The study's methods as plain functions on polars / numpy / torch / scikit-learn.

Nothing here imports Dagster: every module can be read as a methods paragraph and
unit-tested directly.
"""
