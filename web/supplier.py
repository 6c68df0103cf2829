"""The supplier pages of the buyers' workspace (issue 16): being built."""

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
