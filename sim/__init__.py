"""negsim: agent-based simulator of multi-party territorial negotiations."""

import os as _os

__version__ = "0.1.0"

# Arrow's allocator (mimalloc) hands freed pages back to the system 10 ms after they are freed; a job
# builds and encodes its tables chunk after chunk, and each chunk then faulted its pages in again (with
# glibc's trimming, a seventh of a million-run job's CPU went to page faults). Kept, they are reused.
# Read when Arrow's library loads, so set before anything imports pyarrow; a user's own setting wins.
_os.environ.setdefault("MIMALLOC_PURGE_DELAY", "-1")
