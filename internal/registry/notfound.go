package registry

// IsNotFound reports whether err, from Digest, Image or Copy, says that the registry holds no such
// tag, digest or repository (404, or the 403 some registries send for absent tags), as opposed to a
// failure to ask: callers that build what is missing must not build because a registry was down.
func IsNotFound(err error) bool { return isNotFound(err) }
