"""Great Expectations suites that gate publishing (see expectations/README.md).

Nothing here imports GX at package import time: `expectations.runner` (and the suite modules
it imports) load it only when the pipeline reaches its validation step.
"""
