"""Great Expectations suites that gate publishing (see expectations/README.md).

Nothing here imports GX at package import time: `expectations.runner` (and the suite modules
it imports) load it only when the pipeline reaches its validation step.
"""

import importlib.util
import sys


def _defer_import(name: str) -> None:
    """Register `name` so that it loads on first use instead of now (importlib's LazyLoader).

    GX's package import loads every built-in expectation, and its distribution expectations
    (KL divergence, KS tests) import scipy.stats at module level: ~0.7 s of CPU for a module
    they only call while validating one of those expectations, which no suite here uses. The
    module stays the real one; it loads the first time anything reads from it. (altair, the
    other large import of those modules, cannot be deferred this way: `import altair` itself
    reads from the module.)"""
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        return
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    parent, _, child = name.rpartition(".")
    setattr(sys.modules[parent], child, module)


_defer_import("scipy.stats")
