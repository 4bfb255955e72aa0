"""What ``selinon-trace summary``'s task and flow tables hold, computed by DuckDB: the yardstick.

Per task name: attempts (runs), successes, failures, retries, and the p50/p95/max of their durations (the
``runtime`` the end carries, else the end's time minus its attempt's start, matched by task id and
``retried_count``); per flow name: runs, successes, failures and the same percentiles of start-to-end.
``benchmarks/cli_million.py`` runs it beside the CLI; on its own::

    python benchmarks/duckdb_summary.py TRACE.jsonl    # the rows, and the seconds on standard error
"""

from __future__ import annotations

import sys
import time

COLUMNS = """{
    'event': 'VARCHAR', 'time': 'TIMESTAMPTZ', 'node': 'VARCHAR',
    'details': 'STRUCT(task_name VARCHAR, task_id VARCHAR, retried_count BIGINT, runtime DOUBLE,
                       dispatcher_id VARCHAR, flow_name VARCHAR)'
}"""

QUERY = """
with ev as (
    select event, epoch(time) as ts, details.task_name as name, details.task_id as tid,
           details.retried_count as rc, details.runtime as runtime,
           details.dispatcher_id as fid, details.flow_name as flow
    from read_ndjson($path, columns = {columns})
),
starts as (select tid, rc, min(ts) as ts from ev where event = 'TASK_START' group by all),
ends as (
    select e.name, e.event, coalesce(e.runtime, e.ts - s.ts) as d
    from ev e left join starts s using (tid, rc)
    where e.event in ('TASK_END', 'TASK_FAILURE', 'TASK_RETRY')
),
flow_starts as (select fid, min(ts) as ts from ev where event = 'FLOW_START' group by all),
flow_ends as (
    select e.flow as name, e.event, e.ts - s.ts as d
    from ev e left join flow_starts s using (fid)
    where e.event in ('FLOW_END', 'FLOW_FAILURE')
)
select 'task', name, count(*), count(*) filter (event = 'TASK_END'),
       count(*) filter (event = 'TASK_FAILURE'), count(*) filter (event = 'TASK_RETRY'),
       quantile_disc(d, 0.5), quantile_disc(d, 0.95), max(d)
from ends group by all
union all
select 'flow', name, count(*), count(*) filter (event = 'FLOW_END'),
       count(*) filter (event = 'FLOW_FAILURE'), 0,
       quantile_disc(d, 0.5), quantile_disc(d, 0.95), max(d)
from flow_ends group by all
order by 1, 2
"""


def main() -> None:
    """Run the query on the file named on the command line; print its rows, and its seconds on stderr."""
    import duckdb  # the `bench` extra

    path = sys.argv[1]
    started = time.perf_counter()
    # The path is a bound parameter; the column types are part of the query text (no user input).
    rows = duckdb.connect().execute(QUERY.replace("{columns}", COLUMNS), {"path": path}).fetchall()
    elapsed = time.perf_counter() - started
    for row in rows:
        print(*row, sep="\t")
    print(elapsed, file=sys.stderr)


if __name__ == "__main__":
    main()
