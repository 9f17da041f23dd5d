"""The running daemon: lifecycle, scheduling, probing and live decisions."""
