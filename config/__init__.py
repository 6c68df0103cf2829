"""Settings from the environment (and an optional .env file), validated at start."""
