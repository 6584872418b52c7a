"""The scheduler the daemon runs: every setting the issue names, read back from APScheduler."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.triggers.interval import IntervalTrigger

from collector.daemon import JOB_ID, build_scheduler
from collector.runs import Settings, perform_run


def test_one_coalescing_job_every_interval_in_utc_starting_now(tmp_path: Path) -> None:
    settings = Settings(tmp_path / "c.db", tmp_path, tmp_path / "hb", 300)
    before = datetime.now(timezone.utc)
    scheduler = build_scheduler(settings, ThreadPoolExecutor(max_workers=1))
    (job,) = scheduler.get_jobs()
    assert job.id == JOB_ID
    assert job.func is perform_run
    assert job.args[0] == settings
    assert isinstance(job.trigger, IntervalTrigger)
    assert job.trigger.interval == timedelta(seconds=300)
    assert job.trigger.timezone == timezone.utc
    assert scheduler.timezone.utcoffset(datetime(2024, 7, 1)) == timedelta(0)  # UTC, not local
    assert before <= job.next_run_time <= datetime.now(timezone.utc)  # the first run at once
    assert job.coalesce is True
    assert job.max_instances == 1
    assert job.misfire_grace_time >= 60
