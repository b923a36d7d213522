"""Unit tests of the suite's own crypto: make ``harmony_conformance`` importable and keep
hypothesis from writing a database into the work tree."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

try:
    from hypothesis import settings

    settings.register_profile("harmony-unit", database=None, deadline=None)
    settings.load_profile("harmony-unit")
except ImportError:  # pragma: no cover
    pass
