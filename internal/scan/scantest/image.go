package scantest

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// ImageSpec describes a test image: an Alpine 3.18 base layer with openssl at
// OpenSSL, and optionally an app layer with a Go binary at /app/server whose
// build info names golang.org/x/text at Text, an npm package lodash at
// Lodash, plus extra files.
type ImageSpec struct {
	// OpenSSL is the installed openssl version in /lib/apk/db/installed.
	OpenSSL string
	// Text is the golang.org/x/text version compiled into /app/server; empty
	// means no binary.
	Text string
	// Lodash is the version of an npm package installed under
	// /app/node_modules/lodash; empty means none.
	Lodash string
	// Files are extra files (path → content) in the app layer; two specs with
	// the same OpenSSL and BaseFiles share the base layer and differ only here.
	Files map[string]string
	// BaseFiles are extra files in the base layer, to make bases differ.
	BaseFiles map[string]string
}

// Vulnerable has the CRITICAL and MEDIUM openssl, the HIGH x/text and the
// MEDIUM lodash findings.
var Vulnerable = ImageSpec{OpenSSL: OpenSSLVulnerable, Text: TextVulnerable, Lodash: LodashVulnerable}

// Fixed has both packages at fixed versions: no finding at all.
var Fixed = ImageSpec{OpenSSL: OpenSSLFixed, Text: TextFixed, Lodash: LodashFixed}

// epoch is the mtime of every file, so equal content gives equal digests.
var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Image builds the image described by spec.
func Image(tb testing.TB, spec ImageSpec) v1.Image {
	tb.Helper()
	baseFiles := map[string][]byte{
		"etc/alpine-release":    []byte("3.18.4\n"),
		"lib/apk/db/installed":  apkInstalled(spec.OpenSSL),
		"etc/os-release":        []byte("NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.18.4\n"),
		"usr/share/test/README": []byte("scantest base layer\n"),
	}
	// Some bulk, as a real base image has, so layer caching is measurable.
	for i := range 200 {
		baseFiles[fmt.Sprintf("usr/share/doc/pkg%03d/README", i)] = bytes.Repeat([]byte(fmt.Sprintf("package %d documentation\n", i)), 80)
	}
	for p, c := range spec.BaseFiles {
		baseFiles[p] = []byte(c)
	}
	base, err := tarLayer(baseFiles)
	if err != nil {
		tb.Fatal(err)
	}
	layers := []v1.Layer{base}
	app := map[string][]byte{}
	for p, c := range spec.Files {
		app[p] = []byte(c)
	}
	if spec.Text != "" {
		bin, err := GoBinary(spec.Text)
		if err != nil {
			tb.Fatal(err)
		}
		app["app/server"] = bin
	}
	if spec.Lodash != "" {
		app["app/node_modules/lodash/package.json"] = []byte(`{"name": "lodash", "version": "` + spec.Lodash + `", "license": "MIT"}` + "\n")
	}
	if len(app) > 0 {
		l, err := tarLayer(app)
		if err != nil {
			tb.Fatal(err)
		}
		layers = append(layers, l)
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		tb.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		tb.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Created = "linux", "amd64", v1.Time{Time: epoch}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		tb.Fatal(err)
	}
	return img
}

// Layout writes spec's image as an OCI image layout under a new temp dir,
// tagged ref (org.opencontainers.image.ref.name), and returns the dir and the
// image's manifest digest.
func Layout(tb testing.TB, spec ImageSpec, ref string) (string, v1.Hash) {
	tb.Helper()
	img := Image(tb, spec)
	dir := filepath.Join(tb.TempDir(), "layout")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		tb.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref})); err != nil {
		tb.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		tb.Fatal(err)
	}
	return dir, d
}

func apkInstalled(openssl string) []byte {
	var b bytes.Buffer
	for _, p := range [][2]string{{"musl", "1.2.4-r2"}, {"openssl", openssl}} {
		if p[1] == "" {
			continue
		}
		fmt.Fprintf(&b, "P:%s\nV:%s\nA:x86_64\nL:MIT\no:%s\n\n", p[0], p[1], p[0])
	}
	return b.Bytes()
}

// tarLayer builds an uncompressed-then-gzipped layer with deterministic
// headers, parent directories included.
func tarLayer(files map[string][]byte) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		for d := filepath.Dir(name); d != "." && !dirs[d]; d = filepath.Dir(d) {
			dirs[d] = true
		}
	}
	for _, d := range slices.Sorted(maps.Keys(dirs)) {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: epoch}); err != nil {
			return nil, err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		mode := int64(0o644)
		if filepath.Base(filepath.Dir(name)) == "app" {
			mode = 0o755
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(files[name])), ModTime: epoch}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(files[name]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
}

var (
	binMu    sync.Mutex
	binCache = map[string][]byte{}
)

// goSum pins the two x/text versions the fixture binary may use, so the
// build needs no checksum database.
const goSum = `golang.org/x/text v0.21.0 h1:zyQAAkrwaneQ066sspRyJaG9VNi/YJ1NfzcGB3hZ/qo=
golang.org/x/text v0.21.0/go.mod h1:4IBbMaMmOPCJ8SecivzSH54+73PCFmPWxNTLm+vZkEQ=
golang.org/x/text v0.27.0 h1:4fGWRpyh641NLlecmyl4LOe6yDdfaYNrGb2zdfo4JV4=
golang.org/x/text v0.27.0/go.mod h1:1D28KMCvyooCX9hBiosv5Tz/+YLxj0j7XhWjpSUF7CU=
`

// GoBinary compiles a tiny linux/amd64 program that imports
// golang.org/x/text/language at version textVersion, so its embedded build
// info names that module version, exactly what Trivy's gobinary analyzer
// reads. Results are memoised per process; the go build cache makes later
// processes fast.
func GoBinary(textVersion string) ([]byte, error) {
	binMu.Lock()
	defer binMu.Unlock()
	if b, ok := binCache[textVersion]; ok {
		return b, nil
	}
	dir, err := os.MkdirTemp("", "scantest-gobin-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	files := map[string]string{
		"go.mod":  "module example.com/server\n\ngo 1.24\n\nrequire golang.org/x/text " + textVersion + "\n",
		"go.sum":  goSum,
		"main.go": "package main\n\nimport (\n\t\"fmt\"\n\n\t\"golang.org/x/text/language\"\n)\n\nfunc main() { fmt.Println(language.English) }\n",
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o600); err != nil {
			return nil, err
		}
	}
	out := filepath.Join(dir, "server")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOFLAGS=-mod=readonly -buildvcs=false", "GOWORK=off",
		"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building the x/text %s test binary: %w\n%s", textVersion, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	binCache[textVersion] = b
	return b, nil
}
