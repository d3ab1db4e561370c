SET lock_timeout = '5s';

DROP VIEW kasho_ops.wraparound_forecast;
DROP VIEW kasho_ops.disk_forecast;
