"""What every dashboard page shares.

`context.py` defines PageContext (target, range, window, config) that a page reads with
`current()`; `sidebar.py` keeps target and time range in st.query_params; `pages.py` is how
a feature declares its pages (PageSpec); `store.py` makes cached, read-only, parameterised
reads from the metrics store (`read_frame`, `cached_read`, the `WINDOW` filter, the one
`time_bucket` rule, the `latest_sample` and `latest_run` SQL, `latest_rows` reading the
newest sample's rows) and reads collection freshness;
`relations.py` reads what the Storage, Maintenance and Indexes pages share (the tracked
tables' and indexes' newest rows with their values at the start of the range, the relation
summary, the installed extensions) and turns cumulative counters into per-range deltas;
`figures.py` gives every chart one look (`finish_figure`, colours, UTC axes, `plotly_text`
for names from a monitored server); `freshness.py` rates each metric group ok / stale /
failing / never (pure); `units.py` formats bytes, rates, ages and intervals;
`recovery_states.py` reads and shows the backup and replication states the collector stored
(and whether the target is a standby); `plain.py` is the one way to show text from a
monitored server (`md` inside markdown-rendering calls, `chart` for plotly figures);
`auth.py` signs people in and checks their role (`require`, `allowed`).
"""
