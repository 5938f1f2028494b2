package rewrite

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// corpusDir is the shared real-world corpus (see testdata/README.md);
// AUTOMATOR_CORPUS overrides it. Benchmarks fall back to testdata.
func corpusDir() string {
	if d := os.Getenv("AUTOMATOR_CORPUS"); d != "" {
		return d
	}
	if _, err := os.Stat("../../../shared/corpus/INDEX.md"); err == nil {
		return "../../../shared/corpus"
	}
	return "testdata"
}

var benchUpdates = []Update{
	{Repository: "ghcr.io/stefanprodan/podinfo", Tag: "6.15.0", Digest: d1},
	{Repository: "redis", Tag: "8.8.1"},
	{Repository: "docker.io/bitnami/nginx", Tag: "1.29.2-debian-12-r0"},
	{Repository: "busybox", Tag: "1.38.1", Digest: d2},
	{Repository: "ghcr.io/azure-samples/aks-store-demo/store-front", Tag: "2.1.0"},
	{Repository: "us-central1-docker.pkg.dev/online-boutique-ci/microservices-demo/frontend", Tag: "v0.10.7"},
	{Repository: "bespinian/awesome-image", Tag: "2.1.0"},
	{Repository: "otel/opentelemetry-collector-k8s", Tag: "0.132.0"},
}

type benchFile struct {
	name string
	data []byte
}

func loadCorpus(b *testing.B) []benchFile {
	b.Helper()
	var files []benchFile
	err := filepath.WalkDir(corpusDir(), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if ext := filepath.Ext(p); ext != ".yaml" && ext != ".yml" && filepath.Base(p) != "Kustomization" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files = append(files, benchFile{name: p, data: data})
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if len(files) == 0 {
		b.Skip("no corpus files")
	}
	return files
}

// BenchmarkRewriteCorpus rewrites every YAML file of the corpus (Helm
// templates are skipped by name, unparseable files count as errors) with a
// set of updates that match images found in it.
func BenchmarkRewriteCorpus(b *testing.B) {
	files := loadCorpus(b)
	var bytesIn int
	for _, f := range files {
		bytesIn += len(f.data)
	}
	b.ReportAllocs()
	b.SetBytes(int64(bytesIn))
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	changes, errs := 0, 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		changes, errs = 0, 0
		for _, f := range files {
			_, res, err := Rewrite(f.name, f.data, benchUpdates)
			if err != nil {
				errs++
			}
			changes += len(res.Changes)
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	n := float64(b.N * len(files))
	b.ReportMetric(n/b.Elapsed().Seconds(), "files/s")
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/n, "B/file")
	b.ReportMetric(float64(len(files)), "files")
	b.ReportMetric(float64(changes), "changes")
	b.ReportMetric(float64(errs), "errfiles")
}

// toolCase is one update of a corpus file; yq and kustArg say how yq and
// kustomize would do it (kept next to the update as documentation of the
// equivalent command).
type toolCase struct {
	name    string
	file    string // relative to the corpus
	asName  string // file name as the tools would see it (kustomize needs kustomization.*)
	update  Update
	yq      string // yq -i expression
	kustArg string // kustomize edit set image argument; "" when not applicable
}

var toolCases = []toolCase{
	{name: "helm-podinfo", file: "stefanprodan__podinfo/charts/podinfo/values.yaml", asName: "values.yaml",
		update: Update{Repository: "ghcr.io/stefanprodan/podinfo", Tag: "6.15.0"}, yq: `.image.tag = "6.15.0"`},
	{name: "helm-bitnami-nginx", file: "bitnami__charts/bitnami/nginx/values.yaml", asName: "values.yaml",
		update: Update{Repository: "docker.io/bitnami/nginx", Tag: "1.29.2-debian-12-r0"}, yq: `.image.tag = "1.29.2-debian-12-r0"`},
	{name: "flux-helmrelease", file: "fluxcd__flux2-kustomize-helm-example/apps/base/podinfo/release.yaml", asName: "release.yaml",
		update: Update{Repository: "public.ecr.aws/docker/library/redis", Tag: "8.6.3"}, yq: `.spec.values.redis.tag = "8.6.3"`},
	{name: "kustomize-update", file: "bespinian__argocd-demo/env/int/kustomization.yml", asName: "kustomization.yml",
		update: Update{Repository: "bespinian/awesome-image", Tag: "2.1.0"},
		yq:     `(.images[] | select(.name == "bespinian/awesome-image")).newTag = "2.1.0"`, kustArg: "bespinian/awesome-image=bespinian/awesome-image:2.1.0"},
	{name: "kustomize-insert", file: "stefanprodan__podinfo/deploy/overlays/dev/kustomization.yaml", asName: "kustomization.yaml",
		update: Update{Repository: "ghcr.io/stefanprodan/podinfo", Tag: "6.15.0"},
		yq:     `.images += [{"name": "ghcr.io/stefanprodan/podinfo", "newTag": "6.15.0"}]`, kustArg: "ghcr.io/stefanprodan/podinfo:6.15.0"},
	{name: "kustomize-component", file: "GoogleCloudPlatform__microservices-demo/kustomize/components/container-images-tag/kustomization.yaml", asName: "kustomization.yaml",
		update:  Update{Repository: "us-central1-docker.pkg.dev/online-boutique-ci/microservices-demo/frontend", Tag: "v0.10.7"},
		yq:      `(.images[] | select(.name == "us-central1-docker.pkg.dev/online-boutique-ci/microservices-demo/frontend")).newTag = "v0.10.7"`,
		kustArg: "us-central1-docker.pkg.dev/online-boutique-ci/microservices-demo/frontend=us-central1-docker.pkg.dev/online-boutique-ci/microservices-demo/frontend:v0.10.7"},
}

// diffLines counts added and removed lines of a unified diff.
func diffLines(a, b []byte) int {
	n := 0
	for _, l := range strings.Split(UnifiedDiff("a", "b", a, b), "\n") {
		if (strings.HasPrefix(l, "+") || strings.HasPrefix(l, "-")) && !strings.HasPrefix(l, "+++") && !strings.HasPrefix(l, "---") {
			n++
		}
	}
	return n
}

// BenchmarkRewriteInProcess times Rewrite as a Go function (in-process: no
// process start, no file I/O) on the cases yq and kustomize are compared on
// as whole processes in e2e's BenchmarkSideBySide (`make bench`'s table),
// and reports the diff size (added + removed lines). Its times are not
// comparable with a process's.
//
// Run: go test -run '^$' -bench RewriteInProcess ./internal/rewrite/
func BenchmarkRewriteInProcess(b *testing.B) {
	corpus := corpusDir()
	if corpus == "testdata" {
		b.Skip("corpus not found; set AUTOMATOR_CORPUS")
	}
	for _, tc := range toolCases {
		orig, err := os.ReadFile(filepath.Join(corpus, tc.file))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(tc.name, func(b *testing.B) {
			var out []byte
			b.ReportAllocs()
			for b.Loop() {
				out, _, err = Rewrite(tc.asName, orig, []Update{tc.update})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(diffLines(orig, out)), "difflines")
		})
	}
}

// BenchmarkNestedMerges rewrites files of nested `<<: [*a, *a, …]` merges
// (levels × fanout); merge-steps/op is the flattening work, linear in the
// file where a naive lookup is fanout^levels.
func BenchmarkNestedMerges(b *testing.B) {
	for _, c := range []struct{ levels, fanout int }{{10, 10}, {20, 10}, {25, 40}} {
		in := []byte(nestedMerges(c.levels, c.fanout))
		ups := []Update{{Repository: "ghcr.io/acme/cart", Tag: "2.0.0"}}
		b.Run(fmt.Sprintf("levels=%d/fanout=%d/bytes=%d", c.levels, c.fanout, len(in)), func(b *testing.B) {
			var steps int
			for b.Loop() {
				if _, _, err := Rewrite("values.yaml", in, ups, withIndexStats(&steps)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(steps), "merge-steps/op")
		})
	}
}
