"""`outwatch demo`: the founding case, 15 February 2022, replayed live on loopback."""
