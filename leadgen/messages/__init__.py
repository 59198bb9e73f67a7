"""Message models exchanged over the broker, one module per family, and their codec."""
