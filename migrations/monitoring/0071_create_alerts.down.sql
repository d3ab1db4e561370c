SET lock_timeout = '5s';

DROP TABLE kasho_ops.notifications;
DROP VIEW kasho_ops.alert_acknowledgements;
DROP VIEW kasho_ops.silences;
DROP TABLE kasho_ops.alert_actions;
DROP TABLE kasho_ops.alerts;
