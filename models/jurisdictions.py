"""Jurisdiction codes (ISO 3166 country, optionally a region: JP, US-NY, DE-BY) and the time
zone each implies. A code is valid when the ``holidays`` library knows its public holidays, so
that every contract stored has a business calendar."""

import holidays

# Jurisdictions whose time zone is unambiguous enough to default; others must name one.
DEFAULT_TIME_ZONES = {
    "JP": "Asia/Tokyo",
    "GB": "Europe/London",
    "IE": "Europe/Dublin",
    "DE": "Europe/Berlin",
    "FR": "Europe/Paris",
    "NL": "Europe/Amsterdam",
    "BE": "Europe/Brussels",
    "IT": "Europe/Rome",
    "ES": "Europe/Madrid",
    "AT": "Europe/Vienna",
    "SE": "Europe/Stockholm",
    "FI": "Europe/Helsinki",
    "DK": "Europe/Copenhagen",
    "PL": "Europe/Warsaw",
    "CZ": "Europe/Prague",
    "PT": "Europe/Lisbon",
    "SG": "Asia/Singapore",
    "KR": "Asia/Seoul",
}


class UnknownJurisdiction(ValueError):
    pass


def split_jurisdiction(code: str) -> tuple[str, str | None]:
    """``"JP"`` → ("JP", None); ``"US-NY"`` → ("US", "NY")."""
    country, _, subdivision = code.strip().upper().partition("-")
    return country, subdivision or None


def validate_jurisdiction(code: str) -> str:
    country, subdivision = split_jurisdiction(code)
    supported = holidays.list_supported_countries()
    if country not in supported:
        raise UnknownJurisdiction(
            f"unknown jurisdiction {code!r} (expected an ISO 3166 country code such as JP, US, DE,"
            " optionally with a region: US-NY, DE-BY)"
        )
    if subdivision is not None and subdivision not in supported[country]:
        raise UnknownJurisdiction(f"unknown region {subdivision!r} of {country} in {code!r}")
    return country if subdivision is None else f"{country}-{subdivision}"
