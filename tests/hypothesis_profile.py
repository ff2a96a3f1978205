"""Hypothesis profiles for the property tests: `dev` (default, random) and `ci` (derandomised, same examples each run).

Choose one with HYPOTHESIS_PROFILE=ci. Examples are few enough that every property file runs in seconds;
deadlines are off because a shared machine's timing is no property of the product, and no example
database is kept (a failure prints the blob that replays it).
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("dev", deadline=None, database=None, print_blob=True)
settings.register_profile("ci", deadline=None, database=None, derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
