// Package transport is the one HTTP layer under all outbound traffic, registry and GitHub alike:
// deadlines (Base), retries with back-off honouring Retry-After (NewRetry), per-host rate limits
// shared by every request to a host (Limits), request metrics hooks (Observe), and the two security
// guards every stack carries: credentials never follow a redirect to another host
// (NoForeignCredentials), and plain HTTP only to hosts marked insecure or loopback (RequireTLS).
//
// go-containerregistry retries status codes but ignores Retry-After, and has no per-host rate limit
// shared across pullers and pushers; go-github has neither retries nor limits. What is written here by
// hand is exactly that gap: callers still use go-containerregistry's auth, scheme and temporary-error
// retries on top of these RoundTrippers.
//
// Stacks are composed bottom-up by the callers (internal/registry, internal/github):
//
//	Base (deadlines) ← RequireTLS ← NoForeignCredentials ← Observe ← NewRetry (+Limits)
package transport
