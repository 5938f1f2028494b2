package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var built struct {
	once sync.Once
	path string
	err  error
}

// AutomatorBinary is $AUTOMATOR_BIN (make build's bin/automator, with
// bin/automator-scan beside it), or automator and automator-scan built once
// per test process into one directory, so automator finds its scanner the
// way an installation does: beside itself.
func AutomatorBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("AUTOMATOR_BIN"); p != "" {
		return p
	}
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "automator-e2e-bin-")
		if err != nil {
			built.err = err
			return
		}
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		for _, name := range []string{"automator", "automator-scan"} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), "./cmd/"+name)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOEXPERIMENT=jsonv2")
			if out, err := cmd.CombinedOutput(); err != nil {
				built.err = fmt.Errorf("building %s: %v\n%s", name, err, out)
				return
			}
		}
		built.path = filepath.Join(dir, "automator")
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}
