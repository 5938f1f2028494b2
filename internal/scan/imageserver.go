package scan

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// imageServer lends images to the scanner process: a read-only registry on
// a loopback port that serves, for the duration of one request, the
// manifest, config and layers of one v1.Image, by digest only. The image
// behind it is whatever the caller has — an OCI layout from the build, or a
// remote image read lazily through automator's one registry client — so the
// scanner reads exactly the layers its cache lacks, and credentials never
// leave this process.
//
// It is written by hand because go-containerregistry's pkg/registry keeps
// pushed blobs in memory (a whole image per scan) and serves any client:
// this one streams from the image it was given, and only under an
// unguessable path (a 128-bit random token), since other users of the
// machine can reach a loopback port too.
type imageServer struct {
	token string
	ln    net.Listener
	srv   *http.Server

	mu     sync.Mutex
	next   uint64
	images map[string]v1.Image // by repository: token/i<n>
}

func newImageServer() (*imageServer, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("making the image server's token: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening on a loopback port for the scanner: %w", err)
	}
	s := &imageServer{token: hex.EncodeToString(b[:]), ln: ln, images: map[string]v1.Image{}}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// lend serves img until the returned function is called, under a reference
// (host:port/token/iN@digest) the scanner opens it by.
func (s *imageServer) lend(img v1.Image) (string, func(), error) {
	d, err := img.Digest()
	if err != nil {
		return "", nil, fmt.Errorf("reading the image digest: %w", err)
	}
	s.mu.Lock()
	s.next++
	repo := s.token + "/i" + strconv.FormatUint(s.next, 10)
	s.images[repo] = img
	s.mu.Unlock()
	return s.ln.Addr().String() + "/" + repo + "@" + d.String(), func() {
		s.mu.Lock()
		delete(s.images, repo)
		s.mu.Unlock()
	}, nil
}

func (s *imageServer) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}

func (s *imageServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "read-only", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == "/v2/" {
		w.WriteHeader(http.StatusOK)
		return
	}
	// /v2/<token>/i<n>/{manifests,blobs}/<digest>
	rest, ok := strings.CutPrefix(r.URL.Path, "/v2/")
	parts := strings.Split(rest, "/")
	if !ok || len(parts) != 4 || parts[0] != s.token {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	img := s.images[parts[0]+"/"+parts[1]]
	s.mu.Unlock()
	if img == nil {
		http.NotFound(w, r)
		return
	}
	h, err := v1.NewHash(parts[3])
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	switch parts[2] {
	case "manifests":
		s.manifest(w, r, img, h)
	case "blobs":
		s.blob(w, r, img, h)
	default:
		http.NotFound(w, r)
	}
}

func (s *imageServer) manifest(w http.ResponseWriter, r *http.Request, img v1.Image, h v1.Hash) {
	d, err := img.Digest()
	if err != nil || d != h {
		http.NotFound(w, r)
		return
	}
	raw, err := img.RawManifest()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	mt, err := img.MediaType()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", string(mt))
	w.Header().Set("Docker-Content-Digest", d.String())
	w.Header().Set("Content-Length", strconv.Itoa(len(raw)))
	if r.Method == http.MethodGet {
		_, _ = w.Write(raw)
	}
}

func (s *imageServer) blob(w http.ResponseWriter, r *http.Request, img v1.Image, h v1.Hash) {
	if cfg, err := img.ConfigName(); err == nil && cfg == h {
		raw, err := img.RawConfigFile()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(raw)))
		if r.Method == http.MethodGet {
			_, _ = w.Write(raw)
		}
		return
	}
	l, err := img.LayerByDigest(h)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	if size, err := l.Size(); err == nil {
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	}
	if r.Method == http.MethodHead {
		return
	}
	rc, err := l.Compressed()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer rc.Close()
	if _, err := io.Copy(w, rc); err != nil && !errors.Is(err, context.Canceled) {
		// The scanner sees a short body and fails that layer's read.
		return
	}
}
