"""secretref-fn: render-time fan-out of OpenChoreo SecretReferences to ESO ExternalSecrets."""

__version__ = "0.1.0"
