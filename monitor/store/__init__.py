"""SQLite: results, outages, incidents, announcements and channels."""
