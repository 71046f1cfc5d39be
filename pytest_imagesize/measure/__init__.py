"""Measurement: read an image archive, merge its layers, describe the image.

The archive reader, the layer merge and the Go reader are pure (no engine needed)."""
