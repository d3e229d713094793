"""The layer families of the registry, one module each; see netspec/registry.py."""
