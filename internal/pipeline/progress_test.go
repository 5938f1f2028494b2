package pipeline

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestBuildStageProgress: a run over many services logs a progress line
// every ProgressEvery finished services and one when the last finished,
// with counts that add up (cart is blocked everywhere, svc07 fails).
func TestBuildStageProgress(t *testing.T) {
	services := []string{"cart"}
	for i := range 24 {
		services = append(services, fmt.Sprintf("svc%02d", i))
	}
	tests := []struct {
		every     int
		wantLines []int // the done count of each progress line
	}{
		{every: 10, wantLines: []int{10, 20, 25}},
		{every: 5, wantLines: []int{5, 10, 15, 20, 25}},
		{every: 0, wantLines: []int{10, 20, 25}}, // default: every 10 at this size
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.every), func(t *testing.T) {
			f := newStage(t, services...)
			f.builder.fail = map[string]error{"svc07": errors.New("build failed")}
			core, logs := observer.New(zapcore.InfoLevel)
			f.stage.Logger, f.stage.ProgressEvery = zap.New(core), tt.every
			_, _ = f.stage.Run(context.Background(), f.plans, targets(t, "staging"), nil)
			lines := logs.FilterMessage("build progress").All()
			if len(lines) != len(tt.wantLines) {
				t.Fatalf("%d progress lines, want %d: %v", len(lines), len(tt.wantLines), lines)
			}
			for i, l := range lines {
				m := l.ContextMap()
				if m["done"] != int64(tt.wantLines[i]) || m["total"] != int64(len(services)) {
					t.Errorf("line %d: done %v of %v, want %d of %d", i, m["done"], m["total"], tt.wantLines[i], len(services))
				}
				if _, ok := m["elapsed"]; !ok {
					t.Errorf("line %d has no elapsed time: %v", i, m)
				}
			}
			last := lines[len(lines)-1].ContextMap()
			want := map[string]int64{"built": 24, "pushed": 23, "blocked": 1, "failed": 1}
			for k, v := range want {
				if last[k] != v {
					t.Errorf("last line: %s = %v, want %d (%v)", k, last[k], v, last)
				}
			}
		})
	}
}
