"""Read models built from the notification log, each with its own tracked position."""
