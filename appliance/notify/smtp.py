"""E-mail through the enterprise's SMTP relay: STARTTLS (certificate checked), AUTH, and a
call-back just before the message is handed over, so the outbox can log that moment."""

from __future__ import annotations

import email.policy
import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formataddr, formatdate

from appliance.notify.errors import InDoubtError, PermanentSendError, TransientSendError
from appliance.notify.secrets import read_secret
from appliance.platform.config import SchedulingConfig

# Header lines up to RFC 5322's 998 octets: Python's folding at 78 moves some long subjects
# whole onto a continuation line, which clients then show with a leading space.
POLICY = email.policy.SMTP.clone(max_line_length=998)


def compose(
    settings: SchedulingConfig,
    *,
    message_id: str,
    to: str,
    to_name: str,
    subject: str,
    text: str,
    ics: str | None = None,
    method: str | None = None,
) -> EmailMessage:
    """A MIME message: the text, and an invitation both inline (text/calendar, which
    Outlook reads) and attached as invite.ics (which other clients offer to open)."""
    message = EmailMessage(policy=POLICY)
    message["From"] = settings.smtp_sender
    message["To"] = formataddr((to_name, to))
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id
    # Quoted-printable keeps every line 7-bit: no relay needs 8BITMIME for a Chinese text.
    message.set_content(text, cte="quoted-printable")
    if ics is not None and method is not None:
        message.add_alternative(
            ics, subtype="calendar", params={"method": method}, cte="quoted-printable"
        )
        message.add_attachment(
            ics.encode("utf-8"), maintype="application", subtype="ics", filename="invite.ics"
        )
    return message


def _response_error(exc: smtplib.SMTPResponseException, stage: str) -> Exception:
    # 5xx is a refusal that will not change; 4xx asks to try later.
    kind = PermanentSendError if 500 <= exc.smtp_code < 600 else TransientSendError
    return kind(f"the relay answered {exc.smtp_code} at {stage}")


def send_email(
    settings: SchedulingConfig,
    message: EmailMessage,
    *,
    recipient: str,
    before_handover: Callable[[], None],
) -> None:
    """Send one message; raises TransientSendError, PermanentSendError or InDoubtError."""
    if not settings.smtp_host:
        raise PermanentSendError("no SMTP relay is configured")
    password = (
        read_secret(settings.smtp_password_file, settings.smtp_password_env)
        if settings.smtp_username
        else ""
    )
    context = ssl.create_default_context(
        cafile=str(settings.smtp_ca_file) if settings.smtp_ca_file else None
    )
    handed_over = False
    stage = "connect"
    try:
        with smtplib.SMTP(
            settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_s
        ) as smtp:
            stage = "EHLO"
            smtp.ehlo()
            if settings.smtp_starttls:
                if not smtp.has_extn("starttls"):
                    raise TransientSendError("the relay does not offer STARTTLS")
                stage = "STARTTLS"
                smtp.starttls(context=context)
                smtp.ehlo()
            if settings.smtp_username:
                stage = "AUTH"
                smtp.login(settings.smtp_username, password)
            stage = "MAIL FROM"
            code, _ = smtp.mail(settings.smtp_sender)
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, b"", settings.smtp_sender)
            stage = "RCPT TO"
            code, _ = smtp.rcpt(recipient)
            if code not in (250, 251):
                raise smtplib.SMTPRecipientsRefused({recipient: (code, b"")})
            # From here the relay may have the whole message: the outbox logs it first.
            before_handover()
            handed_over = True
            stage = "DATA"
            smtp.data(message.as_bytes(policy=POLICY))
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        kind = PermanentSendError if codes and codes[0] >= 500 else TransientSendError
        raise kind(f"the relay refused the recipient ({codes[0] if codes else '?'})") from None
    except smtplib.SMTPResponseException as exc:
        # An explicit answer, even after DATA, is definite: the relay did not take it.
        raise _response_error(exc, stage) from None
    except ssl.SSLCertVerificationError:
        raise TransientSendError("the relay's TLS certificate is not trusted") from None
    except (OSError, smtplib.SMTPException) as exc:
        if handed_over:
            raise InDoubtError(f"the connection broke during {stage}") from None
        raise TransientSendError(f"{type(exc).__name__} during {stage}") from None
