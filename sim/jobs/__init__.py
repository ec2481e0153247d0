"""Jobs: what to run (spec), the validated plan, chunks and where they run (executors, a Dask
cluster, the machine's budget), and running or resuming a job into a results folder.

    spec -> plan -> run (chunks on an executor) -> results folder (sim.results)
"""

from sim.jobs.chunks import (
                           Task,
                           auto_chunk_size,
                           execute,
                           plan_chunks,
                           run_tasks,
                           stop_on_signals,
)
from sim.jobs.executors import LOCAL, ExecutorSpec
from sim.jobs.manifest import (
                           DEFAULT_RUNS,
                           base_manifest,
                           default_out,
                           write_analysis,
                           write_drivers,
)
from sim.jobs.plan import Plan, plan_job, prepare, scenario_with_sets
from sim.jobs.run import JobResult, resume_hint, resume_job, run_job
from sim.jobs.spec import (
                           DEFAULT_SWEEP_RUNS,
                           METHODS,
                           SAMPLER_SPAWN_KEY,
                           JobSpec,
                           parse_grid,
                           parse_sample,
                           parse_set,
                           qmc_engine,
                           sample_unit,
)

__all__ = ["DEFAULT_RUNS", "DEFAULT_SWEEP_RUNS", "LOCAL", "METHODS", "SAMPLER_SPAWN_KEY", "ExecutorSpec", "JobResult",
           "JobSpec", "Plan", "Task", "auto_chunk_size", "base_manifest", "default_out", "execute", "parse_grid",
           "parse_sample", "parse_set", "plan_chunks", "plan_job", "prepare", "qmc_engine", "resume_hint",
           "resume_job", "run_job", "run_tasks", "sample_unit", "scenario_with_sets", "stop_on_signals",
           "write_analysis", "write_drivers"]
