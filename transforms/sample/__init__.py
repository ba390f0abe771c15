"""The synthetic survey generator and the writers of survey files (Parquet, CSV, Stata).

Used by ``welfare-audit generate``, the tests and the benchmarks; never by an audit run.
"""
