"""Where announcements come from: Telegram channels, RSS/Atom feeds, the ingest API, exports."""
