"""``ossfaces backfill``: give photos already in a bucket the result they would have had from the trigger.

Split by job: :mod:`.listing` (list the bucket, pair photos with results), :mod:`.staleness` (what a result's metadata
says), :mod:`.dispatch` (fc2 async invocations or a local pool), :mod:`.checkpoint` (resume without misses or
duplicates), :mod:`.run` (the loop), :mod:`.session` (one command's set-up, progress and summary).
"""

from ossfaces_tools.backfill.checkpoint import Checkpoint, Frontier
from ossfaces_tools.backfill.dispatch import (
    ASYNC_PAYLOAD_LIMIT,
    Dispatcher,
    DispatchError,
    FcDispatcher,
    LocalDispatcher,
    TokenBucket,
    event_payloads,
    fc_client,
)
from ossfaces_tools.backfill.listing import Candidate, Scanner, count_objects, make_record, record_payload
from ossfaces_tools.backfill.run import Backfill, Options, Summary
from ossfaces_tools.backfill.session import BackfillRequest, FcTarget, run_session
from ossfaces_tools.backfill.staleness import NEEDS_WORK, Verdict, verdict_of

__all__ = [
    "ASYNC_PAYLOAD_LIMIT", "NEEDS_WORK", "Backfill", "BackfillRequest", "Candidate", "Checkpoint", "DispatchError",
    "Dispatcher", "FcDispatcher", "FcTarget", "Frontier", "LocalDispatcher", "Options", "Scanner", "Summary",
    "TokenBucket", "Verdict", "count_objects", "event_payloads", "fc_client", "make_record", "record_payload",
    "run_session", "verdict_of",
]  # fmt: skip
