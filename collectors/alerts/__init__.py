"""Alerts: rules as data, evaluated from the store, silenced and acknowledged by operators,
sent to webhooks.

`rules.toml` lists the shipped rules (thresholds, `for`, the groups each reads, parameters)
and `conditions/<rule>.sql` holds each rule's query on the store (rules reading backups'
recovery states share `recovery_state.sql` and take the severity stored with each row);
`rules.py` loads them with the config's overrides; `settings.py` parses `[alerts]`
(overrides, webhooks) and `[metrics]`; `states.py` moves an alert between pending, firing
and resolved (pure); `history.py` is the thin layer over kasho_ops.alerts and the silences;
`evaluator.py` evaluates a target's rules after the groups they read are stored (one
transaction, an advisory lock per target) and queues the notifications owed; `silences.py`
parses and matches Alertmanager-style matchers (pure); `actions.py` records silences, their
expiry and acknowledgements in the audit table after the role check; `wording.py` says what
an alert is, in its unit (pure); `notify.py` builds the generic (Alertmanager), Slack and
PagerDuty bodies (pure); `delivery.py` sends them with retries and records the outcome;
`service.py` wires all of it, and /metrics, into the collector.
"""
