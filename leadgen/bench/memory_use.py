"""Whether a worker's memory stays flat as jobs go through it: one worker on the embedded pair
handles many jobs in batches, and its resident set size is sampled after each batch. Between
batches the store forgets the finished jobs, whose data is the store's, not the worker's."""

import os
import resource
import uuid
from typing import Any

from leadgen import constants as c
from leadgen.bench.leads import BenchLeadSource
from leadgen.bench.workflow import CUSTOMER, ENDINGS, Endings, start_job, watch
from leadgen.broker.memory import MemoryBroker
from leadgen.settings import Settings
from leadgen.store.memory import MemoryStore
from leadgen.worker.process import Worker

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


async def rss_over(settings: Settings, jobs: int, leads: int, dossiers: int) -> dict[str, Any]:
    """Run ``jobs`` jobs in ten batches on one worker; its RSS after the first batch and
    after the last, in MiB, and the growth between them."""
    batch = max(1, jobs // 10)
    store, broker = MemoryStore(), MemoryBroker()
    worker = Worker(settings, store=store, broker=broker, lead_source=BenchLeadSource())
    await worker.start()
    try:
        endings = Endings()
        for key in ENDINGS:
            await broker.consume(await watch(broker, key), endings.on_event, prefetch=100)
        samples: list[float] = []
        done = 0
        while done < jobs:
            size = min(batch, jobs - done)
            for feature, amount in (
                (c.LEAD_DISCOVERY, size),
                (c.DOSSIER_RESEARCH, size * dossiers),
            ):
                await store.move_credits(CUSTOMER, feature, amount, f"grant:{uuid.uuid4().hex}")
            for _ in range(size):
                job_id = f"bench-{uuid.uuid4().hex[:12]}"
                endings.start(job_id)
                await start_job(broker, job_id, leads, dossiers)
            done += size
            await endings.wait(done)
            await worker.runner.idle.wait()
            await store.drop()
            samples.append(_rss_mib())
    finally:
        await worker.stop(grace=5)
    first, last = samples[0], samples[-1]
    return {
        "jobs": jobs,
        "rss_first_batch_mib": first,
        "rss_last_batch_mib": last,
        "growth": last / first - 1 if first else 0.0,
    }


def _rss_mib() -> float:
    """This process's resident set size now (its peak where /proc is missing), in MiB."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * PAGE / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
