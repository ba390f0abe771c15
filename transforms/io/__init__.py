"""Input and output: files, the staging and warehouse databases, memory limits, user hooks.

May import the pure logic at the root of ``transforms``; never ``transforms.report``,
``flows`` or Prefect (tests/test_layers.py).
"""
