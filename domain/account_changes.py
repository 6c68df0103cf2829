"""The mail that tells the legal lead of an account or role change, in Japanese and English.

Accounts have no language of their own, so one mail carries both: the Japanese text first,
then the English. Roles and changes are named with the product's words (no enum values in the
Japanese text); user names, token names and token prefixes are shown as they are stored.
Pure: the caller passes the time of the change.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from auth.roles import AccountKind, Role

MAIL_KIND: Final = "account_change"  # the outbox rows' kind


class ChangeKind(StrEnum):
    CREATED = "created"
    ROLES_CHANGED = "roles_changed"
    DEACTIVATED = "deactivated"
    TOKEN_ISSUED = "token_issued"  # noqa: S105 - a change's name, not a secret
    TOKENS_REVOKED = "tokens_revoked"


# (English, 日本語), in the order mails list them
ROLE_WORDS: Final[dict[Role, tuple[str, str]]] = {
    Role.PROCUREMENT: ("procurement", "調達"),
    Role.PROCUREMENT_LEAD: ("procurement lead", "調達リーダー"),
    Role.LEGAL: ("legal", "法務"),
    Role.LEGAL_LEAD: ("legal lead", "法務リーダー"),
    Role.ADMIN: ("administrator", "管理者（アカウント管理）"),
    Role.READER: ("read only", "閲覧のみ"),
}
_KIND_WORDS: Final[dict[AccountKind, tuple[str, str]]] = {
    AccountKind.PERSON: ("a person's account", "個人のアカウント"),
    AccountKind.SERVICE: (
        "service account (an integration)",
        "サービスアカウント（システム連携用）",
    ),
}


@dataclass(frozen=True, slots=True)
class AccountChange:
    """One change of one account, as the audit entry and the mail state it."""

    kind: ChangeKind
    username: str
    account_kind: AccountKind
    actor: str
    occurred_at: datetime
    revision: int  # the account's change number: the audit entry's and the mail's key
    roles_before: frozenset[Role] = frozenset()
    roles_after: frozenset[Role] = frozenset()
    token_name: str = ""
    token_prefixes: tuple[str, ...] = ()
    token_expires: datetime | None = None


def change_key(username: str, revision: int) -> str:
    """The business key of an account's change: the audit entry's and the outbox row's."""
    return f"account:{username}:{revision}"


def roles_text(roles: frozenset[Role], *, japanese: bool) -> str:
    ordered = sorted(roles, key=list(ROLE_WORDS).index)  # the table's order, not the enum's
    words = [ROLE_WORDS[r][1 if japanese else 0] for r in ordered]
    if not words:
        return "なし" if japanese else "none"
    return "、".join(words) if japanese else ", ".join(words)


def _what_ja(c: AccountChange) -> str:
    after = roles_text(c.roles_after, japanese=True)
    count = len(c.token_prefixes)
    match c.kind:
        case ChangeKind.CREATED:
            return f"アカウントの作成（役割: {after}）"
        case ChangeKind.ROLES_CHANGED:
            return f"役割の変更（{roles_text(c.roles_before, japanese=True)} → {after}）"
        case ChangeKind.DEACTIVATED:
            return (
                f"アカウントの無効化（APIトークン {count} 件を失効、ログイン中のセッションを終了）"
            )
        case ChangeKind.TOKEN_ISSUED:
            expires = c.token_expires.date().isoformat() if c.token_expires else "無期限"
            who = "本人による発行" if c.actor == c.username else "管理者による発行"
            return (
                f"APIトークンの発行（{who}。名前: {c.token_name}、識別子: "
                f"{', '.join(c.token_prefixes)}、有効期限: {expires}）"
            )
        case ChangeKind.TOKENS_REVOKED:
            return f"APIトークンの失効（{count} 件: {', '.join(c.token_prefixes)}）"


def _what_en(c: AccountChange) -> str:
    after = roles_text(c.roles_after, japanese=False)
    count = len(c.token_prefixes)
    match c.kind:
        case ChangeKind.CREATED:
            return f"account created (roles: {after})"
        case ChangeKind.ROLES_CHANGED:
            return f"roles changed ({roles_text(c.roles_before, japanese=False)} -> {after})"
        case ChangeKind.DEACTIVATED:
            return f"account deactivated ({count} API token(s) revoked, signed-in sessions ended)"
        case ChangeKind.TOKEN_ISSUED:
            expires = c.token_expires.date().isoformat() if c.token_expires else "never"
            who = "by its owner" if c.actor == c.username else "by an administrator"
            return (
                f"API token issued {who} (name: {c.token_name}, prefix: "
                f"{', '.join(c.token_prefixes)}, expires: {expires})"
            )
        case ChangeKind.TOKENS_REVOKED:
            return f"API tokens revoked ({count}: {', '.join(c.token_prefixes)})"


def mail_text(change: AccountChange) -> tuple[str, str]:
    """(subject, body) of the mail to the legal lead(s)."""
    c = change
    when = c.occurred_at.strftime("%Y-%m-%d %H:%M UTC")
    kind_en, kind_ja = _KIND_WORDS[c.account_kind]
    subject = f"[契約更新] アカウントの変更: {c.username} / Account change: {c.username}"
    japanese = (
        "アカウントの変更をお知らせします。\n\n"
        f"変更: {_what_ja(c)}\n"
        f"アカウント: {c.username}（{kind_ja}）\n"
        f"変更した人: {c.actor}\n"
        f"日時: {when}\n"
        f"変更番号: {c.revision}\n\n"
        "法務リーダーには、アカウントと役割の変更がすべて通知されます。"
        "他人になりすまして承認できないようにするためです。"
        f"心当たりのない変更は、監査ログ（対象: {c.username}、変更番号 {c.revision}）で"
        "確認してください。\n"
    )
    english = (
        "An account has changed.\n\n"
        f"Change: {_what_en(c)}\n"
        f"Account: {c.username} ({kind_en})\n"
        f"Changed by: {c.actor}\n"
        f"When: {when}\n"
        f"Change number: {c.revision}\n\n"
        "The legal lead is told of every account and role change, so that nobody can approve "
        "as someone else. If you did not expect this change, look it up in the audit trail "
        f"(subject {c.username}, change number {c.revision}).\n"
    )
    return subject, f"{japanese}\n----\n\n{english}"
