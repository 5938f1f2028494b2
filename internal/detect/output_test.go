package detect

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

func TestBuildMatrix(t *testing.T) {
	names := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("s%04d", i)
		}
		return out
	}
	for _, n := range []int{0, 1, 256, 257, 1000, 2000} {
		m := BuildMatrix(names(n), MaxMatrixJobs)
		if len(m.Include) > MaxMatrixJobs {
			t.Errorf("n=%d: %d jobs", n, len(m.Include))
		}
		var seen []string
		for _, e := range m.Include {
			if n <= MaxMatrixJobs {
				if e.Service == "" || e.Group != 0 {
					t.Errorf("n=%d: entry %+v", n, e)
				}
				seen = append(seen, e.Service)
			} else {
				if e.Service != "" || e.Group == 0 || e.Services == "" {
					t.Errorf("n=%d: entry %+v", n, e)
				}
				seen = append(seen, strings.Split(e.Services, ",")...)
			}
		}
		if strings.Join(seen, ",") != strings.Join(names(n), ",") {
			t.Errorf("n=%d: matrix does not cover every service exactly once in order", n)
		}
	}
}

func TestResultWrite(t *testing.T) {
	r := &Result{Range: "a..b", Services: []Selected{{Name: "web", Reasons: []Reason{{File: "web/main.go", Rule: "context"}}}}}
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			var got, want bytes.Buffer
			if err := r.Write(&got, format); err != nil {
				t.Fatal(err)
			}
			write := r.WriteText
			if format == "json" {
				write = r.WriteJSON
			}
			if err := write(&want); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Errorf("Write(%q) = %q, want %q", format, got.String(), want.String())
			}
		})
	}
}
