"""OS and language packages found in an image's final filesystem, and the bytes each one owns."""
