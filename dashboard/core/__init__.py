"""What every dashboard page shares.

`context.py` defines PageContext (target, range, window, chart buckets per group, config, Kasho
Ops' own activity and whether to show it, a pinned end) that a page reads with `current()`;
`sidebar.py` keeps target, time range, a pinned end and the "show Kasho Ops' own activity"
switch in st.query_params; `pages.py` is how a feature declares its pages (PageSpec); `store.py`
makes cached, read-only, parameterised reads from the metrics store (`read_frame`,
`cached_read`, the `WINDOW` filter, the one `time_bucket` rule, `latest_sample`, `latest_rows`
and `latest_run`), each within a deadline, and reads collection freshness and what the collector
did in a window (`collection_for`); `timeseries.py` is the one rule that turns stored samples
into chart buckets (0 when a run found nothing, a gap only when a collection is missing) and
says why a chart is empty (pure); `own.py` is the one rule for Kasho Ops' own sessions,
statements and store database (pure, plus its SQL form); `utilization.py` is the one definition
of connections in use against usable slots (pure); `panels.py` places a chart or the reason it
is empty, and notes what was hidden; `loading.py` runs a page's reads at once and builds each
figure once per window for every session; `relations.py` reads what the Storage, Maintenance and
Indexes pages share (the tracked tables' and indexes' newest rows with their values at the start
of the range, the relation summary, the installed extensions) and turns cumulative counters into
per-range deltas; `figures.py` gives every chart one look (`finish_figure`, colours, UTC axes,
whole-number count ticks, gap bands, `plotly_text` for names from a monitored server);
`plain.py` is the one way to show text from a monitored server (`md` inside any markdown-
rendering call, `chart` for every plotly figure); `freshness.py` rates each metric group ok /
stale / failing / never (pure); `units.py` formats bytes, rates, ages and intervals;
`recovery_states.py` reads and shows the backup and replication states the collector stored (and
whether the target is a standby); `auth.py` signs people in and checks their role (`require`,
`allowed`).
"""
