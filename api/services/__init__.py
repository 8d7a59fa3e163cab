"""Work the routes and the CLI share: audit, ACLs, InfluxDB reads, splits."""
