package pipeline

import (
	"sync"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// Each service's builder output goes to that service's group, not to the
// stage's logger: the lines of parallel builds never interleave.
func TestBuilderOutputInItsServiceGroup(t *testing.T) {
	f := newStage(t)
	stageCore, stageLogs := observer.New(zapcore.DebugLevel)
	f.stage.Logger = zap.New(stageCore)
	var mu sync.Mutex
	groups := map[string]*observer.ObservedLogs{}
	f.stage.Group = func(service string, work func(*zap.Logger) error) error {
		core, logs := observer.New(zapcore.DebugLevel)
		mu.Lock()
		groups[service] = logs
		mu.Unlock()
		return work(zap.New(core).With(zap.String("service", service)))
	}
	if _, err := f.stage.Run(t.Context(), f.plans, targets(t, "dev"), nil); err != nil {
		t.Fatal(err)
	}
	if n := stageLogs.FilterMessage("builder output").Len(); n != 0 {
		t.Errorf("%d builder lines outside any group", n)
	}
	for _, p := range f.plans {
		lines := groups[p.Service].FilterMessage("builder output").AllUntimed()
		if len(lines) != 1 || lines[0].ContextMap()["line"] != "STEP 1/1: COPY "+p.Service {
			t.Errorf("group %s holds builder lines %v, want its own one", p.Service, lines)
		}
	}
}
