"""How mail leaves the engine: the SMTP transport, the sender, and the team addresses that
review requests and escalations go to. Without a host, messages stay in the outbox table."""

from dataclasses import dataclass

from config.settings import Settings


@dataclass(frozen=True, slots=True)
class MailSettings:
    host: str
    port: int
    starttls: bool
    use_ssl: bool
    username: str | None
    password: str | None
    sender: str
    legal_team: str
    escalation: str

    @classmethod
    def outbox_only(cls) -> "MailSettings":
        return cls("", 0, False, False, None, None, "renewals@localhost", "", "")

    @classmethod
    def from_settings(cls, s: Settings) -> "MailSettings":
        return cls(
            host=s.smtp_host,
            port=s.smtp_port,
            starttls=s.smtp_starttls,
            use_ssl=s.smtp_ssl,
            username=s.smtp_username,
            password=s.smtp_password,
            sender=s.mail_from,
            legal_team=s.legal_team_email,
            escalation=s.escalation_email,
        )
