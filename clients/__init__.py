"""How people's interfaces (CLI, API, schedules) talk to running renewals through Temporal."""
