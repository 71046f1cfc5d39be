"""Images in a registry (OCI distribution API): ``RegistrySource`` reads one reference's
manifests, config and layer blobs; ``RegistryOptions`` says how the registry is reached."""

from .reference import RegistryOptions, parse_reference
from .source import RegistrySource

__all__ = ["RegistryOptions", "RegistrySource", "parse_reference"]
