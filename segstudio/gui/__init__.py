"""The Qt desktop application: a thin layer over segstudio.core and segstudio.ml."""
