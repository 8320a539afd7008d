"""Data model: images, classes, masks, edits, projects. No torch, no Qt."""
