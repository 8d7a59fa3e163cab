"""MQTT -> InfluxDB gateway: validates node messages with protocol.wire, writes
points in batches, spools to disk while InfluxDB is away, acknowledges only
what is stored, dead-letters what is malformed."""
