"""Models, losses, metrics, data, training, inference and export. No Qt."""
