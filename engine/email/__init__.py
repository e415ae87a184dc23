"""Email: approved drafts out to the customer, and what happened to them back in.

Owns rendering a draft as a message (`render`), signed links (`tokens`), transports (`transports`:
SMTP, the signed webhook, none), the sender (`sender`), provider event webhooks (`providers`:
SendGrid, Postmark, Mailgun and our own format; `events`: storing them) and list hygiene
(`hygiene`: bounces, complaints, unengaged customers). May import every room above it (`text`
to `drafting`) and the core."""
