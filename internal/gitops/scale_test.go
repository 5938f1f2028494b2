package gitops

import (
	"fmt"
	"strings"
	"testing"

	"github.com/deployment-automator/automator/internal/config"
)

// manyServices returns one values file pinning n services (the layout of a
// monorepo's environment file), the request configuring them, and updates
// for every service.
func manyServices(n int) (Request, []file, []Update) {
	var values strings.Builder
	req := Request{Env: config.Environment{Name: "staging", Files: []string{"values.yaml"}}, Services: map[string]string{}}
	var updates []Update
	for i := range n {
		svc, repo := fmt.Sprintf("svc%04d", i), fmt.Sprintf("ghcr.io/acme/svc%04d", i)
		fmt.Fprintf(&values, "%s:\n  image:\n    repository: %s\n    tag: \"1.0.0\"\n    digest: %s\n", svc, repo, digest(fmt.Sprintf("%x", i%16)))
		req.Services[svc] = repo
		updates = append(updates, Update{Service: svc, Repository: repo, Tag: "1.1.0", Digest: digest(fmt.Sprintf("%x", (i+1)%16))})
	}
	return req, []file{{Path: "values.yaml", Mode: "100644", Content: []byte(values.String())}}, updates
}

// BenchmarkRewriteFilesManyServices rewrites one values file pinning 100,
// 500 and 2,000 services with an update for every one of them: the
// write-back's share of promoting a whole monorepo at once. Time and
// allocations should grow about linearly with the services.
func BenchmarkRewriteFilesManyServices(b *testing.B) {
	for _, n := range []int{100, 500, 2000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			req, files, updates := manyServices(n)
			b.ReportAllocs()
			for b.Loop() {
				eds, err := rewriteFiles(req, files, updates)
				if err != nil {
					b.Fatal(err)
				}
				if len(eds) != 1 || len(eds[0].Changes) != 2*n {
					b.Fatalf("%d files, want 1 with %d changes", len(eds), 2*n)
				}
			}
		})
	}
}

// TestReadImagesManyServices: one read of an environment whose services are
// spread over two files finds each service in its file, including two
// services naming one image in different spellings (nginx and
// docker.io/library/nginx).
func TestReadImagesManyServices(t *testing.T) {
	_, one, _ := manyServices(50)
	var second strings.Builder
	images := map[string]string{"web": "nginx", "proxy": "docker.io/library/nginx"}
	for i := 50; i < 100; i++ {
		fmt.Fprintf(&second, "svc%04d:\n  image:\n    repository: ghcr.io/acme/svc%04d\n    tag: \"2.0.0\"\n", i, i)
	}
	second.WriteString("web:\n  image: nginx:1.29.0\n")
	for i := range 100 {
		images[fmt.Sprintf("svc%04d", i)] = fmt.Sprintf("ghcr.io/acme/svc%04d", i)
	}
	files := []file{one[0], {Path: "more.yaml", Content: []byte(second.String())}}
	imgs, err := readImages(config.Environment{Name: "staging"}, files, images)
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 102 {
		t.Fatalf("%d images, want 102", len(imgs))
	}
	for _, img := range imgs {
		wantFile, wantTag := "values.yaml", "1.0.0"
		switch {
		case img.Service == "web" || img.Service == "proxy":
			wantFile, wantTag = "more.yaml", "1.29.0"
		case img.Service >= "svc0050":
			wantFile, wantTag = "more.yaml", "2.0.0"
		}
		if img.File != wantFile || img.Tag != wantTag {
			t.Errorf("%s: %s in %s, want %s in %s", img.Service, img.Tag, img.File, wantTag, wantFile)
		}
	}
}

// BenchmarkReadImagesManyServices reads what one values file pinning 100,
// 500 and 2,000 services runs (promotion from an upstream environment).
func BenchmarkReadImagesManyServices(b *testing.B) {
	for _, n := range []int{100, 500, 2000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			req, files, _ := manyServices(n)
			b.ReportAllocs()
			for b.Loop() {
				imgs, err := readImages(req.Env, files, req.Services)
				if err != nil || len(imgs) != n {
					b.Fatalf("%d images, %v", len(imgs), err)
				}
			}
		})
	}
}
