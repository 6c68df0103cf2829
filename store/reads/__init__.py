"""Read models for people (pipeline, review queue, dashboard, one renewal's record). The
interfaces may read these directly; every change goes through :mod:`services`."""
