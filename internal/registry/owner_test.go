package registry

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestOnlyRegistryTalksToRegistries pins that this package is the one
// registry client: no other non-test file of the module imports
// go-containerregistry's remote package, so credentials, host
// normalisation, insecure hosts, retries and rate limits cannot be
// bypassed.
func TestOnlyRegistryTalksToRegistries(t *testing.T) {
	const remotePkg = "github.com/google/go-containerregistry/pkg/v1/remote"
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); n == ".git" || n == "bin" || n == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") || filepath.Dir(p) == "." {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if path == remotePkg && filepath.Base(filepath.Dir(p)) != "registry" {
				t.Errorf("%s imports %s: go through internal/registry's Client", p, remotePkg)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
