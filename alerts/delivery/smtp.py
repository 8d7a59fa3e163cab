"""E-mail over SMTP (optionally STARTTLS and login)."""

from __future__ import annotations

import json
import smtplib
from collections.abc import Sequence
from email.message import EmailMessage

from alerts.delivery.message import Message


class EmailChannel:
    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        recipients: Sequence[str],
        username: str = "",
        password: str = "",
        starttls: bool = False,
        timeout: float = 15.0,
        name: str = "email",
    ) -> None:
        if not recipients:
            raise ValueError("e-mail channel needs at least one recipient")
        self.name = name
        self.host, self.port = host, port
        self.sender, self.recipients = sender, list(recipients)
        self.username, self.password = username, password
        self.starttls, self.timeout = starttls, timeout

    def compose(self, message: Message) -> EmailMessage:
        mail = EmailMessage()
        mail["Subject"] = message.title
        mail["From"] = self.sender
        mail["To"] = ", ".join(self.recipients)
        evidence = json.dumps(message.alert.get("evidence", []), indent=1)
        mail.set_content(f"{message.text}\n\nEvidence (readings):\n{evidence}\n")
        return mail

    def send(self, message: Message) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as client:
            if self.starttls:
                client.starttls()
            if self.username:
                client.login(self.username, self.password)
            client.send_message(self.compose(message))
