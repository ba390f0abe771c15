"""The test suite (a package: a dependency ships a top-level tests package of its own)."""
