"""Suppliers."""

from typing import Annotated

from fastapi import APIRouter, Query

from api.schemas import Page
from auth.roles import Permission
from models.contract import SupplierRead
from models.numbers import DbInt
from models.users import CurrentUser
from portal.deps import SessionDep, require
from store.reads import suppliers as supplier_reads

router = APIRouter(prefix="/suppliers", tags=["suppliers"])

Reader = Annotated[CurrentUser, require(Permission.CONTRACTS_READ)]


@router.get("")
def list_suppliers(
    db: SessionDep,
    _: Reader,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: DbInt = 0,
) -> Page[SupplierRead]:
    items, total = supplier_reads.list_suppliers(db, limit=limit, offset=offset)
    return Page.of(items, total=total, limit=limit, offset=offset)


@router.get("/{supplier_id}")
def read_supplier(supplier_id: str, db: SessionDep, _: Reader) -> SupplierRead:
    return supplier_reads.get_supplier(db, supplier_id=supplier_id)
