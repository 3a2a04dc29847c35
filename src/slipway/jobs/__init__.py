"""The one job model: every kind of job (training, tuning, transform, monitoring, AutoML)
has the same statuses, secondary-status history, failure reason, times and logs."""
