"""Alert service: rules over the stored time series, an alert lifecycle in SQL,
and delivery by webhook, e-mail and MQTT (`python -m alerts`)."""
