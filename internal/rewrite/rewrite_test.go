package rewrite

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const (
	d1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	d2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
)

func TestParseRef(t *testing.T) {
	for _, tc := range []struct {
		in, tag, digest string
		err             bool
	}{
		{in: "1.4.0", tag: "1.4.0"},
		{in: "@" + d1, digest: d1},
		{in: "v2@" + d1, tag: "v2", digest: d1},
		{in: "", err: true},
		{in: "@", err: true},
		{in: d1, err: true},
		{in: "bad tag", err: true},
		{in: "-lead", err: true},
		{in: "v1@sha256:short", err: true},
		{in: strings.Repeat("a", 129), err: true},
	} {
		tag, digest, err := ParseRef(tc.in)
		if (err != nil) != tc.err || tag != tc.tag || digest != tc.digest {
			t.Errorf("ParseRef(%q) = %q, %q, %v; want %q, %q, err=%v", tc.in, tag, digest, err, tc.tag, tc.digest, tc.err)
		}
	}
}

func TestParseUpdate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Update
		err  bool
	}{
		{in: "ghcr.io/acme/api=1.2", want: Update{Repository: "ghcr.io/acme/api", Tag: "1.2"}},
		{in: "localhost:5000/app=@" + d1, want: Update{Repository: "localhost:5000/app", Digest: d1}},
		{in: "nginx=1.25@" + d1, want: Update{Repository: "nginx", Tag: "1.25", Digest: d1}},
		{in: "nginx:1.25=1.26", err: true},
		{in: "=1.0", err: true},
		{in: "nginx", err: true},
		{in: "ng inx=1", err: true},
	} {
		got, err := ParseUpdate(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseUpdate(%q) = %+v, %v; want %+v, err=%v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestRepositoryMatching(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"nginx", "docker.io/library/nginx", true},
		{"library/nginx", "index.docker.io/library/nginx", true},
		{"docker.io/redis", "redis", true},
		{"bitnami/redis", "docker.io/bitnami/redis", true},
		{"ghcr.io/acme/api", "ghcr.io/acme/api", true},
		{"GHCR.io/acme/api", "ghcr.io/acme/api", true},
		{"localhost/app", "docker.io/localhost/app", false},
		{"registry:5000/app", "registry/app", false},
		{"ghcr.io/acme/api", "ghcr.io/acme/api2", false},
		{"nginx", "quay.io/nginx", false},
		{"", "", false},
	} {
		if got := sameRepository(tc.a, tc.b); got != tc.same {
			t.Errorf("sameRepository(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.same)
		}
	}
	for _, tc := range []struct {
		image, prefix string
		under         bool
	}{
		{"us-central1-docker.pkg.dev/p/ms/frontend", "us-central1-docker.pkg.dev/p/ms", true},
		{"ghcr.io/acme/api", "ghcr.io/acme", true},
		{"ghcr.io/acme/api", "ghcr.io/acme/api", false},
		{"ghcr.io/acmex/api", "ghcr.io/acme", false},
	} {
		if got := underRepository(tc.image, tc.prefix); got != tc.under {
			t.Errorf("underRepository(%q, %q) = %v, want %v", tc.image, tc.prefix, got, tc.under)
		}
	}
}

func TestSplitImage(t *testing.T) {
	for _, tc := range []struct{ in, repo, tag, digest string }{
		{"nginx", "nginx", "", ""},
		{"nginx:1.25", "nginx", "1.25", ""},
		{"10.42.0.1:30000/test-image:1.0.0", "10.42.0.1:30000/test-image", "1.0.0", ""},
		{"host:5000/app", "host:5000/app", "", ""},
		{"busybox:1.38.0@" + d1, "busybox", "1.38.0", d1},
		{"app@" + d1, "app", "", d1},
	} {
		r, tg, d := splitImage(tc.in)
		if r != tc.repo || tg != tc.tag || d != tc.digest {
			t.Errorf("splitImage(%q) = %q %q %q", tc.in, r, tg, d)
		}
		if joinRef(r, tg, d) != tc.in {
			t.Errorf("joinRef(splitImage(%q)) = %q", tc.in, joinRef(r, tg, d))
		}
	}
}

func TestQuoting(t *testing.T) {
	for _, tc := range []struct {
		old, v, want string
	}{
		{"tag: v1\n", "1.10", `tag: "1.10"` + "\n"},
		{"tag: v1\n", "11", `tag: "11"` + "\n"},
		{"tag: v1\n", "true", `tag: "true"` + "\n"},
		{"tag: v1\n", "null", `tag: "null"` + "\n"},
		{"tag: v1\n", "on", `tag: "on"` + "\n"},
		{"tag: v1\n", "1e3", `tag: "1e3"` + "\n"},
		{"tag: v1\n", "0x1F", `tag: "0x1F"` + "\n"},
		{"tag: v1\n", "1.2.3", "tag: 1.2.3\n"},
		{"tag: v1\n", "v1.10", "tag: v1.10\n"},
		{"tag: 'v1'\n", "11", "tag: '11'\n"},
		{"tag: \"v1\"\n", "v2", "tag: \"v2\"\n"},
		{"tag: !!str v1\n", "11", "tag: !!str \"11\"\n"},
	} {
		got, _ := mustRewrite(t, "values.yaml", "image:\n  repository: ghcr.io/a/b\n  "+tc.old, []Update{{Repository: "ghcr.io/a/b", Tag: tc.v}})
		if want := "image:\n  repository: ghcr.io/a/b\n  " + tc.want; got != want {
			t.Errorf("%q → %q: got %q, want %q", tc.old, tc.v, got, want)
		}
	}
}

func TestSingleQuoteOption(t *testing.T) {
	got, _ := mustRewrite(t, "values.yaml", "image:\n  repository: r\n  tag: v1\n", []Update{{Repository: "r", Tag: "1.10"}}, WithQuote('\''))
	if want := "image:\n  repository: r\n  tag: '1.10'\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestErrors(t *testing.T) {
	digestOnly := []Update{{Repository: "ghcr.io/a/b", Digest: d1}}
	tag := []Update{{Repository: "ghcr.io/a/b", Tag: "v2"}}
	for _, tc := range []struct {
		name, file, in string
		ups            []Update
		opts           []Option
		check          func(error) bool
		line           int
	}{
		{"parse", "values.yaml", "a: b\n c: d: e\n", tag, nil, isErr[*ParseError], 2},
		{"tabs", "values.yaml", "a:\n\tb: c\n", tag, nil, isErr[*ParseError], 2},
		{"ambiguous", "values.yaml", "image:\n  repository: ghcr.io/a/b\n  tag: v1\nsidecar:\n  image: ghcr.io/a/b:v1\n", tag, nil, isErr[*AmbiguousError], 2},
		{"digest with empty tag and no digest field", "values.yaml", "image:\n  repository: ghcr.io/a/b\n  tag: \"\"\n", digestOnly, nil, isErr[*PathError], 2},
		{"explicit path missing", "values.yaml", "api:\n  image:\n    tag: v1\n", tag, []Option{WithImagePaths(ImagePaths{Image: "ghcr.io/a/b", Tag: "api.image.version"})}, isErr[*PathError], 3},
		{"explicit repository mismatch", "values.yaml", "api:\n  repo: ghcr.io/x/y\n  tag: v1\n", tag, []Option{WithImagePaths(ImagePaths{Image: "ghcr.io/a/b", Repository: "api.repo", Tag: "api.tag"})}, isErr[*PathError], 2},
		{"explicit path to a mapping", "values.yaml", "api:\n  tag:\n    x: 1\n", tag, []Option{WithImagePaths(ImagePaths{Image: "ghcr.io/a/b", Tag: "api.tag"})}, isErr[*PathError], 3},
		{"shared tag conflict", "values.yaml", "images:\n  repository: ghcr.io/a\n  tag: v1\n", []Update{{Repository: "ghcr.io/a/x", Tag: "v2"}, {Repository: "ghcr.io/a/y", Tag: "v3"}}, []Option{WithSharedTag("images.tag")}, isErr[*ConflictError], 3},
		{"block scalar target", "values.yaml", "image:\n  repository: ghcr.io/a/b\n  tag: |\n    v1\n", tag, nil, isErr[*UnsupportedError], 3},
		{"flow kustomize entry", "kustomization.yaml", "images:\n- {name: ghcr.io/a/b}\n", tag, nil, isErr[*UnsupportedError], 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, res, err := Rewrite(tc.file, []byte(tc.in), tc.ups, tc.opts...)
			if err == nil || !tc.check(err) {
				t.Fatalf("err = %v (%T)", err, err)
			}
			if string(out) != tc.in || res.Changed() {
				t.Errorf("input changed on error")
			}
			if want := tc.file + ":" + itoa(tc.line) + ":"; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %q does not start with %q", err, want)
			}
		})
	}
}

func isErr[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestImageMapWithoutTagIsSkipped(t *testing.T) {
	in := "image:\n  repository: ghcr.io/a/b\n"
	got, res := mustRewrite(t, "values-prod.yaml", in, []Update{{Repository: "ghcr.io/a/b", Tag: "v2"}})
	if got != in || res.Changed() || len(res.Skipped) != 1 || res.Skipped[0].Path != "image" || res.Skipped[0].Line != 2 {
		t.Errorf("got %q, %+v", got, res)
	}
}

func TestOptionsValidate(t *testing.T) {
	for name, opts := range map[string][]Option{
		"no image":             {WithImagePaths(ImagePaths{Tag: "a"})},
		"no paths":             {WithImagePaths(ImagePaths{Image: "x"})},
		"twice":                {WithImagePaths(ImagePaths{Image: "nginx", Tag: "a"}), WithImagePaths(ImagePaths{Image: "docker.io/library/nginx", Tag: "b"})},
		"markers and paths":    {WithImagePaths(ImagePaths{Image: "x", Tag: "a"}), WithMarkersOnly()},
		"bad quote":            {WithQuote('`')},
		"bad policy":           {WithPolicy("ns:p", Update{Repository: "x"})},
		"bad kustomize mode":   {WithKustomizeDigestMode(7)},
		"empty shared tag":     {WithSharedTag("")},
		"empty service marker": {WithService("", "x")},
	} {
		if _, _, err := Rewrite("values.yaml", []byte("a: b\n"), nil, opts...); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, _, err := Rewrite("values.yaml", []byte("a: b\n"), []Update{{Repository: "x"}}); err == nil {
		t.Error("update without tag or digest accepted")
	}
}

func TestMarkersOnlyIgnoresLayouts(t *testing.T) {
	in := "image:\n  repository: ghcr.io/a/b\n  tag: v1\nx: v1 # automator: b:tag\n"
	got, res := mustRewrite(t, "values.yaml", in, []Update{{Repository: "ghcr.io/a/b", Tag: "v2"}}, WithMarkersOnly())
	if want := "image:\n  repository: ghcr.io/a/b\n  tag: v1\nx: v2 # automator: b:tag\n"; got != want || len(res.Changes) != 1 || res.Changes[0].Line != 4 {
		t.Errorf("got %q %+v", got, res.Changes)
	}
}

func TestChangeSet(t *testing.T) {
	in := "# c\nimage:\n  repository: ghcr.io/a/b\n  tag: v1\n  digest: \"\"\n"
	_, res := mustRewrite(t, "envs/dev/values.yaml", in, []Update{{Repository: "ghcr.io/a/b", Tag: "v2", Digest: d1}})
	want := []Change{
		{File: "envs/dev/values.yaml", Path: "image.tag", Line: 4, Field: "tag", Old: "v1", New: "v2", Repository: "ghcr.io/a/b"},
		{File: "envs/dev/values.yaml", Path: "image.digest", Line: 5, Field: "digest", Old: "", New: d1, Repository: "ghcr.io/a/b"},
	}
	if len(res.Changes) != len(want) {
		t.Fatalf("changes = %+v", res.Changes)
	}
	for i := range want {
		if res.Changes[i] != want[i] {
			t.Errorf("change %d = %+v, want %+v", i, res.Changes[i], want[i])
		}
	}
}

func TestRewriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "values.yaml")
	in := "image:\n  repository: ghcr.io/a/b\n  tag: v1\n"
	if err := os.WriteFile(p, []byte(in), 0o640); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := RewriteFile(ctx, p, []Update{{Repository: "ghcr.io/a/b", Tag: "v2"}})
	if err != nil || !res.Changed() {
		t.Fatalf("RewriteFile: %+v, %v", res, err)
	}
	b, _ := os.ReadFile(p)
	if want := strings.Replace(in, "v1", "v2", 1); string(b) != want {
		t.Errorf("file = %q", b)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode = %v, want 0640", fi.Mode().Perm())
	}
	// Error: file untouched, no temp files left.
	bad := "image:\n  repository: ghcr.io/a/b\nsidecar:\n  image: ghcr.io/a/b:v1\n  x: [\n"
	if err := os.WriteFile(p, []byte(bad), 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := RewriteFile(ctx, p, []Update{{Repository: "ghcr.io/a/b", Tag: "v3"}}); !isErr[*ParseError](err) {
		t.Errorf("err = %v", err)
	}
	b, _ = os.ReadFile(p)
	ents, _ := os.ReadDir(dir)
	if string(b) != bad || len(ents) != 1 {
		t.Errorf("file changed or temp left: %q, %d entries", b, len(ents))
	}
	// No change: no write (mtime-independent check: a read-only dir still works).
	good := "image:\n  repository: ghcr.io/a/b\n  tag: v3\n"
	if err := os.WriteFile(p, []byte(good), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o700)
	if res, err := RewriteFile(ctx, p, []Update{{Repository: "ghcr.io/a/b", Tag: "v3"}}); err != nil || res.Changed() {
		t.Errorf("no-op rewrite: %+v, %v", res, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := RewriteFile(cctx, p, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled ctx: %v", err)
	}
}

func TestTemplatesSkipped(t *testing.T) {
	in := []byte("image: {{ .Values.image }}\n{{- if .x }}\n")
	out, res, err := Rewrite("chart/templates/deploy.yaml", in, []Update{{Repository: "x", Tag: "v"}})
	if err != nil || !bytes.Equal(out, in) || res.SkipReason == "" {
		t.Errorf("templates: %v %+v", err, res)
	}
}

// A values file that is a symlink (shared between environments, or kept
// elsewhere in the repo) is rewritten through the link: the link stays a
// link and its target gets the new bytes.
func TestRewriteFileThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "shared.yaml")
	if err := os.WriteFile(target, []byte("image: ghcr.io/a/b:v1\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "values.yaml")
	if err := os.Symlink("shared.yaml", link); err != nil {
		t.Fatal(err)
	}
	if _, err := RewriteFile(context.Background(), link, []Update{{Repository: "ghcr.io/a/b", Tag: "v2"}}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(link)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSymlink == 0 {
		t.Error("the symlink was replaced by a regular file")
	}
	if b, _ := os.ReadFile(target); string(b) != "image: ghcr.io/a/b:v2\n" {
		t.Errorf("target = %q", b)
	}
}
