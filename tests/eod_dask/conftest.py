"""Lets the tests import their kit (``book_kit``, ``faults``) by name."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
