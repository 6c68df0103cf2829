"""Who the token belongs to, and their own API tokens: everyone issues, lists and revokes
their own (an administrator cannot do it for another person)."""

from typing import Annotated

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict

from api.account_schemas import RevokedOut, TokenListed, TokenRequest
from api.schemas import Me, TokenOut
from auth.roles import Permission
from models.users import CurrentUser
from portal.deps import SessionDep, require
from services import account_mail, users

router = APIRouter(prefix="/me", tags=["users"])

SignedIn = Annotated[CurrentUser, require(Permission.SIGNED_IN)]


@router.get("")
def read_me(user: SignedIn) -> Me:
    return Me(
        username=user.username,
        display_name=user.display_name,
        roles=sorted(r.value for r in user.roles),
        permissions=sorted(p.value for p in user.permissions),
    )


@router.get("/tokens")
def list_my_tokens(db: SessionDep, user: SignedIn) -> list[TokenListed]:
    return [TokenListed.of(t) for t in users.list_tokens(db, actor=user, username=user.username)]


@router.post("/tokens", status_code=status.HTTP_201_CREATED)
def issue_my_token(body: TokenRequest, db: SessionDep, user: SignedIn) -> TokenOut:
    issued = users.issue_token(
        db,
        actor=user,
        username=user.username,
        name=body.name,
        valid_days=body.valid_days,
        request_id=body.request_id,
        via="api",
    )
    db.commit()
    return TokenOut(
        token=issued.secret, prefix=issued.prefix, name=issued.name, expires_at=issued.expires_at
    )


@router.delete("/tokens/{prefix}")
def revoke_my_token(prefix: str, db: SessionDep, user: SignedIn) -> RevokedOut:
    revoked = users.revoke_tokens(db, actor=user, username=user.username, prefix=prefix, via="api")
    db.commit()
    return RevokedOut(revoked=revoked)


class MailDelivery(BaseModel):
    """How one's renewal mails arrive: "immediate" (each as it happens, and the weekly digest)
    or "digest" (the weekly digest only; escalations still come at once)."""

    model_config = ConfigDict(extra="forbid")

    mail_delivery: str


@router.get("/mail-delivery")
def read_my_mail_delivery(db: SessionDep, user: SignedIn) -> MailDelivery:
    return MailDelivery(mail_delivery=account_mail.mail_delivery(db, actor=user))


@router.put("/mail-delivery")
def choose_my_mail_delivery(body: MailDelivery, db: SessionDep, user: SignedIn) -> MailDelivery:
    """Choose for oneself; any other value is refused naming ``mail_delivery`` (422)."""
    chosen, _ = account_mail.set_mail_delivery(db, actor=user, delivery=body.mail_delivery)
    db.commit()
    return MailDelivery(mail_delivery=chosen)
