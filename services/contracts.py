"""Contracts and suppliers as people register and read them (one at a time; files go through
:mod:`services.imports`)."""

from store.contracts import (
    get_contract,
    list_contracts,
    parse_contract,
    register_contracts,
    upsert_supplier,
)

__all__ = [
    "get_contract",
    "list_contracts",
    "parse_contract",
    "register_contracts",
    "upsert_supplier",
]
