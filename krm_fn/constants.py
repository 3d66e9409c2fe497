"""Labels and annotations this function reads or writes, and the API group it writes."""

ESO_GROUP = "external-secrets.io"

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "secretref-fn"

_PREFIX = "secretref-fn.openchoreo.dev/"
PLANE_ANNOTATION = _PREFIX + "plane"  # on consumers: pick a plane; on output: the plane it is for
SOURCE_ANNOTATION = _PREFIX + "source"  # on output: <namespace>/<SecretReference>
TARGET_NAMESPACE_ANNOTATION = _PREFIX + "target-namespace"  # on ServiceClass / Build
REGISTRY_SERVER_ANNOTATION = _PREFIX + "registry-server"  # on SecretReference
CREDENTIALS_SECRET_ANNOTATION = _PREFIX + "credentials-secret"  # written on Builds
CONSUMER_ANNOTATIONS = (CREDENTIALS_SECRET_ANNOTATION,)  # what we write on consumers (removed when stale)
CHECKSUM_ANNOTATION = _PREFIX + "checksum"  # on output: sha256 of the object as generated (hand edits show)

OPENCHOREO_NAMESPACE = "openchoreo.dev/namespace"  # a consumer's home (control-plane) namespace
OPENCHOREO_ENVIRONMENT = "openchoreo.dev/environment"
