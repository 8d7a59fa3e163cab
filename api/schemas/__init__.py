"""Pydantic schemas per resource: Create (input), Update (partial input), Public (output).
Public schemas never carry password hashes, tokens or raw badge ids."""
