// Package webhook receives registry push notifications and turns them into
// "check this repository now" requests for the watcher.
//
// An event is only a hint: the watcher re-reads the tag list and applies the
// rule's policy itself, so a forged, stale or replayed event can at most
// cause one extra (coalesced) check; it can never choose what is promoted.
// Every receiver still authenticates its sender with the shared secret
// (constant-time comparisons), limits request bodies, and rejects a bad
// secret with 401 before anything is triggered.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Sources, also the last path segment of each receiver and the "source" metric label.
const (
	SourceDistribution = "distribution"
	SourceDockerHub    = "dockerhub"
	SourceHarbor       = "harbor"
	SourceGitHub       = "github"
	SourceGeneric      = "generic"
)

// Results of a delivery, the "result" metric label.
const (
	ResultAccepted     = "accepted"     // a watched repository was queued for a check
	ResultUnwatched    = "unwatched"    // valid event for a repository no rule (of this shard) watches
	ResultIgnored      = "ignored"      // valid delivery that is not a push (ping, delete, blob upload)
	ResultUnauthorized = "unauthorized" // missing or wrong secret or signature
	ResultBadRequest   = "bad_request"  // unreadable payload
	ResultTooLarge     = "too_large"    // body over the limit
)

// DefaultMaxBody is the default request body limit (1 MiB); registries send a few KiB.
const DefaultMaxBody = 1 << 20

// PathPrefix is where the receivers are mounted: PathPrefix + source.
const PathPrefix = "/webhooks/"

// Event is one pushed image, as far as the sender told us.
type Event struct {
	// Source is the receiver that accepted the event.
	Source string
	// Host is the registry host when the payload names it ("" when unknown).
	Host string
	// Repository is the repository path inside the registry, e.g. "acme/cart".
	Repository string
	// Tag and Digest are what was pushed; either may be empty.
	Tag, Digest string
	// PushedAt is the push time from the payload, else the time of receipt.
	PushedAt time.Time
}

// Trigger asks for an immediate check of the repository an event names.
// It must not block on the check and must coalesce duplicates; it reports
// whether any watch rule covers the repository.
type Trigger interface {
	Trigger(ev Event) bool
}

// Observer counts deliveries by source and result (e.g. a Prometheus counter).
type Observer func(source, result string)

type options struct {
	maxBody int64
	log     *zap.Logger
	observe Observer
	now     func() time.Time
}

// Option configures NewHandler.
type Option func(*options) error

// WithMaxBody sets the body size limit in bytes; larger bodies get 413.
func WithMaxBody(n int64) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("max body %d: must be positive", n)
		}
		o.maxBody = n
		return nil
	}
}

// WithLogger sets the logger for one line per delivery.
func WithLogger(l *zap.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return errors.New("nil logger")
		}
		o.log = l
		return nil
	}
}

// WithObserver sets the delivery counter.
func WithObserver(f Observer) Option {
	return func(o *options) error { o.observe = f; return nil }
}

// ErrNoSecret is returned by NewHandler without a secret: receivers never run unauthenticated.
var ErrNoSecret = errors.New("webhook receivers need a shared secret (watch.webhookSecretEnv)")

// NewHandler returns the receivers, mounted at PathPrefix+source, all
// authenticated with secret.
func NewHandler(secret []byte, trig Trigger, opts ...Option) (http.Handler, error) {
	if len(secret) == 0 {
		return nil, ErrNoSecret
	}
	if trig == nil {
		return nil, errors.New("nil trigger")
	}
	o := options{maxBody: DefaultMaxBody, log: zap.NewNop(), observe: func(string, string) {}, now: time.Now}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	mux := http.NewServeMux()
	for _, r := range receivers {
		h := &receiver{spec: r, secret: secret, trig: trig, o: o}
		mux.Handle("POST "+PathPrefix+r.source, h)
	}
	return mux, nil
}

// parseFunc turns a verified body into events; ignored is true for a valid
// delivery that reports no push.
type parseFunc func(h http.Header, body []byte, now time.Time) (events []Event, err error)

type receiverSpec struct {
	source string
	parse  parseFunc
	// hmacOnly accepts only X-Hub-Signature-256 (GitHub signs every delivery).
	hmacOnly bool
	// queryToken also accepts ?token=SECRET, for senders that cannot set headers (Docker Hub).
	queryToken bool
}

var receivers = []receiverSpec{
	{source: SourceDistribution, parse: parseDistribution},
	{source: SourceDockerHub, parse: parseDockerHub, queryToken: true},
	{source: SourceHarbor, parse: parseHarbor},
	{source: SourceGitHub, parse: parseGitHub, hmacOnly: true},
	{source: SourceGeneric, parse: parseGeneric},
}

type receiver struct {
	spec   receiverSpec
	secret []byte
	trig   Trigger
	o      options
}

func (h *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	src := h.spec.source
	log := h.o.log.With(zap.String("source", src), zap.String("remote", r.RemoteAddr))
	reply := func(status int, result string) {
		h.o.observe(src, result)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, result+"\n")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.o.maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			log.Warn("webhook body too large", zap.Int64("limit", h.o.maxBody))
			reply(http.StatusRequestEntityTooLarge, ResultTooLarge)
			return
		}
		reply(http.StatusBadRequest, ResultBadRequest)
		return
	}
	if !h.authorized(r, body) {
		log.Warn("webhook rejected: bad secret or signature")
		reply(http.StatusUnauthorized, ResultUnauthorized)
		return
	}
	events, err := h.spec.parse(r.Header, body, h.o.now())
	if err != nil {
		log.Warn("webhook payload unreadable", zap.Error(err))
		reply(http.StatusBadRequest, ResultBadRequest)
		return
	}
	if len(events) == 0 {
		log.Debug("webhook delivery ignored: no push")
		reply(http.StatusOK, ResultIgnored)
		return
	}
	watched := false
	for _, ev := range events {
		ev.Source = src
		ok := h.trig.Trigger(ev)
		watched = watched || ok
		log.Info("webhook push event", zap.String("host", ev.Host), zap.String("repository", ev.Repository),
			zap.String("tag", ev.Tag), zap.String("digest", ev.Digest), zap.Bool("watched", ok))
	}
	if !watched {
		reply(http.StatusOK, ResultUnwatched)
		return
	}
	reply(http.StatusAccepted, ResultAccepted)
}

// authorized checks the sender's proof of the shared secret, in constant time.
func (h *receiver) authorized(r *http.Request, body []byte) bool {
	if sig := r.Header.Get("X-Hub-Signature-256"); sig != "" {
		return VerifySignature(h.secret, body, sig)
	}
	if h.spec.hmacOnly {
		return false
	}
	var given string
	switch {
	case r.Header.Get("Authorization") != "":
		given = r.Header.Get("Authorization")
		if scheme, tok, ok := strings.Cut(given, " "); ok && strings.EqualFold(scheme, "Bearer") {
			given = tok
		}
	case r.Header.Get("X-Automator-Secret") != "":
		given = r.Header.Get("X-Automator-Secret")
	case h.spec.queryToken:
		given = r.URL.Query().Get("token")
	}
	if given == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(given), h.secret) == 1
}

// Sign returns the X-Hub-Signature-256 value of body under secret ("sha256=<hex>").
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// VerifySignature reports whether sig is the X-Hub-Signature-256 of body
// under secret, comparing in constant time.
func VerifySignature(secret, body []byte, sig string) bool {
	hexSig, ok := strings.CutPrefix(sig, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}
