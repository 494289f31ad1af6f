"""ingest: the door for external group chats (Telegram, WhatsApp, webhooks, imports)."""
